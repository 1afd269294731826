package console

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/store"
)

// CacheControl is the response cache as the console uses it: the same
// calls as GET and DELETE /admin/cache (*cache.Tiered).
type CacheControl interface {
	Stats() []cache.TierStats
	Purge(ctx context.Context, f cache.Filter) (map[string]int, error)
}

// BatchControl is the Batch API as the console uses it: the unfinished
// jobs of every owner, and the cancel of POST /v1/batches/{id}/cancel.
type BatchControl interface {
	ActiveBatches(ctx context.Context) ([]store.Batch, error)
	Cancel(ctx context.Context, id, owner string) (store.Batch, error)
	// Batch reads one batch of any owner (store.ErrNotFound).
	Batch(ctx context.Context, id string) (store.Batch, error)
	// OpenFile opens a file's content for an operator, as GET
	// /v1/files/{id}/content (*batch.Manager.OpenFile with no owner).
	OpenFile(ctx context.Context, id string) (store.BatchFile, io.ReadCloser, error)
}

type cacheRow struct {
	cache.TierStats
	HitRatio float64
}

type cachePageData struct {
	CacheOff   bool
	Tiers      []cacheRow
	Purged     map[string]int
	PurgeModel string
	CanPurge   bool
	BatchesOff bool
	Batches    []store.Batch
	CanCancel  bool
	Found      *store.Batch // the batch looked up by id (?batch=)
	LookedUp   string
	Error      string
	Notice     string
}

// cachePage shows the cache's tiers (sizes, hits, misses) with a purge
// form, and the Batch API's unfinished jobs with their progress and a
// cancel button.
func (c *Console) cachePage(w http.ResponseWriter, r *http.Request, who *caller) {
	c.showCache(w, r, who, http.StatusOK, cachePageData{})
}

func (c *Console) showCache(w http.ResponseWriter, r *http.Request, who *caller, status int, d cachePageData) {
	canCache := c.can(who, auth.ResourceCache, auth.ActionRead)
	canBatches := c.can(who, auth.ResourceBatches, auth.ActionRead) && c.can(who, auth.ResourceAdminKeys, auth.ActionRead)
	if !canCache && !canBatches {
		c.forbidden(w, r, who)
		return
	}
	d.CacheOff = c.o.Cache == nil || !canCache
	if !d.CacheOff {
		for _, s := range c.o.Cache.Stats() {
			row := cacheRow{TierStats: s}
			if n := s.Hits + s.Misses; n > 0 {
				row.HitRatio = float64(s.Hits) / float64(n)
			}
			d.Tiers = append(d.Tiers, row)
		}
		d.CanPurge = c.can(who, auth.ResourceCache, auth.ActionDelete)
	}
	d.BatchesOff = c.o.Batches == nil || !canBatches
	if !d.BatchesOff {
		bs, err := c.o.Batches.ActiveBatches(r.Context())
		if err != nil {
			d.Error = err.Error()
		}
		slices.SortFunc(bs, func(a, b store.Batch) int { return b.CreatedAt.Compare(a.CreatedAt) })
		d.Batches = bs
		d.CanCancel = c.can(who, auth.ResourceBatches, auth.ActionUpdate) && c.can(who, auth.ResourceAdminKeys, auth.ActionUpdate)
		if id := strings.TrimSpace(r.URL.Query().Get("batch")); id != "" {
			d.LookedUp = id
			if b, err := c.o.Batches.Batch(r.Context(), id); err == nil {
				d.Found = &b
			} else {
				d.Error = translate(language(r), "not_found") + ": " + id
			}
		}
	}
	v := c.view(r, who, "cache")
	v.Live = status == http.StatusOK && d.Purged == nil && d.LookedUp == ""
	w.WriteHeader(status)
	c.render(w, "cache", v.with(d))
}

// purgeCache empties the cache (every tier), or one model's entries.
func (c *Console) purgeCache(w http.ResponseWriter, r *http.Request, who *caller) {
	if c.o.Cache == nil || !c.can(who, auth.ResourceCache, auth.ActionDelete) {
		c.forbidden(w, r, who)
		return
	}
	model := strings.TrimSpace(r.PostFormValue("model"))
	counts, err := c.o.Cache.Purge(r.Context(), cache.Filter{Model: model})
	d := cachePageData{Purged: counts, PurgeModel: model}
	status := http.StatusOK
	if err != nil {
		d.Error, status = err.Error(), http.StatusBadGateway
	}
	c.o.Logger.Info("cache purged", "model", model, "by", who.p.ID, "via", "console")
	c.showCache(w, r, who, status, d)
}

// cancelBatch cancels any owner's batch, as an operator.
func (c *Console) cancelBatch(w http.ResponseWriter, r *http.Request, who *caller) {
	if c.o.Batches == nil || !c.can(who, auth.ResourceBatches, auth.ActionUpdate) || !c.can(who, auth.ResourceAdminKeys, auth.ActionUpdate) {
		c.forbidden(w, r, who)
		return
	}
	id := r.PathValue("id")
	if _, err := c.o.Batches.Cancel(r.Context(), id, ""); err != nil {
		c.showCache(w, r, who, http.StatusConflict, cachePageData{Error: err.Error()})
		return
	}
	c.o.Logger.Info("batch cancelled", "batch", id, "by", who.p.ID, "via", "console")
	http.Redirect(w, r, Prefix+"/cache", http.StatusSeeOther)
}

// batchFile downloads a batch's output (which="output") or error file, as
// GET /v1/files/{id}/content does for the batch's owner.
func (c *Console) batchFile(which string) handler {
	return func(w http.ResponseWriter, r *http.Request, who *caller) {
		if c.o.Batches == nil || !c.can(who, auth.ResourceBatches, auth.ActionRead) || !c.can(who, auth.ResourceAdminKeys, auth.ActionRead) {
			c.forbidden(w, r, who)
			return
		}
		b, err := c.o.Batches.Batch(r.Context(), r.PathValue("id"))
		if err != nil {
			c.fail(w, r, who, http.StatusNotFound, "not_found")
			return
		}
		id := b.OutputFileID
		if which == "errors" {
			id = b.ErrorFileID
		}
		if id == "" {
			c.fail(w, r, who, http.StatusNotFound, "not_found")
			return
		}
		f, rc, err := c.o.Batches.OpenFile(r.Context(), id)
		if err != nil {
			c.fail(w, r, who, http.StatusNotFound, "not_found")
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", "application/jsonl")
		w.Header().Set("Content-Disposition", `attachment; filename="`+safeFileName(b.ID+"-"+which)+`.jsonl"`)
		if f.Bytes > 0 {
			w.Header().Set("Content-Length", strconv.FormatInt(f.Bytes, 10))
		}
		_, _ = io.Copy(w, rc) // a failure here means the browser went away
		c.o.Logger.Info("batch file downloaded", "batch", b.ID, "file", id, "by", who.p.ID, "via", "console")
	}
}

// safeFileName keeps letters, digits, '-' and '_' of s.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}
