package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/cache/disk"
	cacheredis "github.com/dsgate/dsgate/internal/cache/redis"
	"github.com/dsgate/dsgate/internal/cache/s3"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/metrics"
)

// buildCache assembles the enabled tiers in read order: memory, Redis,
// disk, S3.
func (c *core) buildCache(cfg *config.Config, log *slog.Logger) error {
	kc := cfg.Cache
	if !kc.Enabled {
		return nil
	}
	mem, err := cache.NewMemory(cache.MemoryOptions{MaxBytes: kc.Memory.MaxBytes, TTL: kc.Memory.TTL})
	if err != nil {
		return fmt.Errorf("cache memory: %w", err)
	}
	c.life.addCloser("cache memory", mem.Close)
	tiers := []cache.Tier{{Store: mem, TTL: kc.Memory.TTL, Inline: true}}
	if t := kc.Redis; t.Enabled {
		rc := goredis.NewClient(cacheredis.ClientOptions(cfg.Redis.Addr, cfg.Redis.Password.Value(), cfg.Redis.DB))
		c.life.addCloser("cache redis", rc.Close)
		st, err := cacheredis.New(cacheredis.Options{Client: rc, TTL: t.TTL})
		if err != nil {
			return fmt.Errorf("cache redis: %w", err)
		}
		tiers = append(tiers, cache.Tier{Store: st, TTL: t.TTL, Timeout: t.Timeout})
	}
	if t := kc.Disk; t.Enabled {
		st, err := disk.Open(disk.Options{Dir: t.Dir, TTL: t.TTL, Logger: log})
		if err != nil {
			return fmt.Errorf("cache disk: %w", err)
		}
		c.life.addCloser("cache disk", st.Close)
		c.life.addTask("cache disk", st.Run)
		tiers = append(tiers, cache.Tier{Store: st, TTL: t.TTL, Timeout: t.Timeout})
	}
	if t := kc.S3; t.Enabled {
		mc, err := minio.New(t.Endpoint, &minio.Options{
			Creds:  credentials.NewStaticV4(t.AccessKey.Value(), t.SecretKey.Value(), ""),
			Secure: t.Secure, Region: t.Region,
		})
		if err != nil {
			return fmt.Errorf("cache s3: %w", err)
		}
		st, err := s3.New(s3.Options{Client: mc, Bucket: t.Bucket, Prefix: t.Prefix, TTL: t.TTL})
		if err != nil {
			return fmt.Errorf("cache s3: %w", err)
		}
		tiers = append(tiers, cache.Tier{Store: st, TTL: t.TTL, Timeout: t.Timeout})
	}
	tc, err := cache.NewTiered(cache.TieredOptions{Tiers: tiers, Logger: log})
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	c.cache = tc
	c.life.addTask("cache", tc.Run)
	c.mounts["/admin/cache"] = c.cacheAdmin()
	return nil
}

// cacheTierLookups is the source of the cache tier collector: each tier's
// lookup counts, nothing with the cache off.
func (c *core) cacheTierLookups() []metrics.CacheTierLookups {
	if c.cache == nil {
		return nil
	}
	var out []metrics.CacheTierLookups
	for _, l := range c.cache.Lookups() {
		out = append(out, metrics.CacheTierLookups(l))
	}
	return out
}

// cacheAdmin serves GET /admin/cache (stats per tier) and DELETE
// /admin/cache?key=K | ?model=M | (nothing: everything).
func (c *core) cacheAdmin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := auth.ActionRead
		if r.Method == http.MethodDelete {
			action = auth.ActionDelete
		}
		p, err := c.access.AuthenticateHTTP(r)
		if err == nil {
			err = c.access.Authorize(p, auth.ResourceCache, action, "")
		}
		switch {
		case errors.Is(err, auth.ErrUnauthenticated):
			writeAdminError(w, http.StatusUnauthorized, "authentication_error", err.Error())
			return
		case err != nil:
			writeAdminError(w, http.StatusForbidden, "permission_error", err.Error())
			return
		}
		switch r.Method {
		case http.MethodGet:
			writeAdminJSON(w, http.StatusOK, map[string]any{"object": "list", "data": c.cache.Stats()})
		case http.MethodDelete:
			c.purgeCache(w, r)
		default:
			writeAdminError(w, http.StatusMethodNotAllowed, "invalid_request_error", "use GET or DELETE")
		}
	})
}

func (c *core) purgeCache(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if ks := r.URL.Query().Get("key"); ks != "" {
		key, err := cache.ParseKey(ks)
		if err != nil {
			writeAdminError(w, http.StatusBadRequest, "invalid_request_error", "key must be 64 hex digits")
			return
		}
		if err := c.cache.Delete(ctx, key); err != nil {
			writeAdminError(w, http.StatusBadGateway, "server_error", err.Error())
			return
		}
		writeAdminJSON(w, http.StatusOK, map[string]any{"deleted": key.String()})
		return
	}
	n, err := c.cache.Purge(ctx, cache.Filter{Model: r.URL.Query().Get("model")})
	if err != nil {
		writeAdminError(w, http.StatusBadGateway, "server_error", err.Error())
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"purged": n})
}
