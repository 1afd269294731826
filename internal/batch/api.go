package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/store"
)

// Handler serves the Files API (/v1/files) and the Batch API
// (/v1/batches). Mount it at "/v1/files", "/v1/files/", "/v1/batches" and
// "/v1/batches/". Callers see only their own files and batches; each route
// needs the batches permission (create, read, update to cancel, delete).
func (m *Manager) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/files", m.guard(auth.ActionCreate, m.uploadFile))
	mux.HandleFunc("GET /v1/files", m.guard(auth.ActionRead, m.listFiles))
	mux.HandleFunc("GET /v1/files/{id}", m.guard(auth.ActionRead, m.getFile))
	mux.HandleFunc("GET /v1/files/{id}/content", m.guard(auth.ActionRead, m.fileContent))
	mux.HandleFunc("DELETE /v1/files/{id}", m.guard(auth.ActionDelete, m.deleteFile))
	mux.HandleFunc("POST /v1/batches", m.guard(auth.ActionCreate, m.createBatch))
	mux.HandleFunc("GET /v1/batches", m.guard(auth.ActionRead, m.listBatches))
	mux.HandleFunc("GET /v1/batches/{id}", m.guard(auth.ActionRead, m.getBatch))
	mux.HandleFunc("POST /v1/batches/{id}/cancel", m.guard(auth.ActionUpdate, m.cancelBatch))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		renderError(w, r, openai.NewError(http.StatusNotFound, "unknown request URL: "+r.Method+" "+r.URL.Path, "unknown_url"))
	})
	return mux
}

type apiFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// guard authenticates, checks the batches permission, and renders the
// handler's error.
func (m *Manager) guard(action string, h apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x := m.o.Exec
		p, err := x.access().AuthenticateHTTP(r)
		if err == nil {
			err = x.access().Authorize(p, auth.ResourceBatches, action, "")
		}
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			renderError(w, r, m.apiError(err))
		}
	}
}

// apiError gives a store's not-found its API form; anything else goes to
// the error table as it is.
func (m *Manager) apiError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return openai.NewError(http.StatusNotFound, "no such object: "+err.Error(), "not_found")
	}
	return err
}

func notFound(kind, id string) error {
	e := openai.NewError(http.StatusNotFound, fmt.Sprintf("No %s found with id '%s'.", kind, id), "not_found")
	e.Param = "id"
	return e
}

func (m *Manager) uploadFile(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	up, err := m.quota.begin(r.Context(), m.o.Store, p.LimitKey())
	if err != nil {
		return err
	}
	defer up.end()
	r.Body = http.MaxBytesReader(w, r.Body, m.o.MaxFileBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return openai.InvalidRequest("file", "send multipart/form-data with file and purpose: "+err.Error())
	}
	id := newID("file-")
	var purpose, filename string
	var size int64
	stored := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return m.uploadError(r.Context(), id, stored, err)
		}
		switch part.FormName() {
		case "purpose":
			b, _ := io.ReadAll(io.LimitReader(part, 64))
			purpose = string(b)
		case "file":
			filename = part.FileName()
			if size, err = m.o.Blobs.Put(r.Context(), id, part, m.o.MaxFileBytes); err != nil {
				return m.uploadError(r.Context(), id, stored, err)
			}
			stored = true
			if err := up.check(size); err != nil {
				m.o.Blobs.Delete(r.Context(), id)
				return err
			}
		}
		part.Close()
	}
	switch {
	case !stored:
		return openai.InvalidRequest("file", "file is required")
	case purpose != "batch":
		m.o.Blobs.Delete(r.Context(), id)
		return openai.InvalidRequest("purpose", fmt.Sprintf("purpose must be batch (this gateway stores batch input only), got %q", purpose))
	}
	if filename == "" || !utf8.ValidString(filename) {
		filename = "upload.jsonl"
	}
	now := m.o.Now()
	f := store.BatchFile{ID: id, Owner: p.LimitKey(), Filename: filename, Purpose: purpose, Bytes: size,
		CreatedAt: now, ExpiresAt: now.Add(m.o.FileTTL)}
	if err := m.o.Store.CreateBatchFile(r.Context(), f); err != nil {
		m.o.Blobs.Delete(r.Context(), id)
		return err
	}
	writeJSON(w, http.StatusOK, fileJSON(f))
	return nil
}

func (m *Manager) uploadError(ctx context.Context, id string, stored bool, err error) error {
	m.o.Blobs.Delete(ctx, id)
	var mbe *http.MaxBytesError
	if errors.Is(err, ErrTooLarge) || errors.As(err, &mbe) {
		return openai.NewError(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("file exceeds the limit of %d bytes", m.o.MaxFileBytes), "file_too_large")
	}
	return openai.InvalidRequest("file", "reading the upload: "+err.Error())
}

// ownFile returns the caller's file id, or not found for anyone else's.
func (m *Manager) ownFile(ctx context.Context, p *auth.Principal, id string) (store.BatchFile, error) {
	f, err := m.o.Store.BatchFile(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.Owner != p.LimitKey()) {
		return f, notFound("file", id)
	}
	return f, err
}

func (m *Manager) listFiles(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	fs, err := m.o.Store.ListBatchFiles(r.Context(), p.LimitKey())
	if err != nil {
		return err
	}
	purpose := r.URL.Query().Get("purpose")
	data := []fileObject{}
	for _, f := range fs {
		if purpose == "" || f.Purpose == purpose {
			data = append(data, fileJSON(f))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "has_more": false})
	return nil
}

func (m *Manager) getFile(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	f, err := m.ownFile(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fileJSON(f))
	return nil
}

func (m *Manager) fileContent(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	f, rc, err := m.OpenFile(r.Context(), r.PathValue("id"), p.LimitKey())
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(f.Bytes, 10))
	io.Copy(w, rc) // a failure here means the client went away
	return nil
}

// OpenFile opens a file's content, as GET /v1/files/{id}/content. owner,
// when not empty, must own the file (a principal's LimitKey); empty is an
// operator reading any. The caller closes the reader.
func (m *Manager) OpenFile(ctx context.Context, id, owner string) (store.BatchFile, io.ReadCloser, error) {
	f, err := m.o.Store.BatchFile(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && owner != "" && f.Owner != owner) {
		return f, nil, notFound("file", id)
	}
	if err != nil {
		return f, nil, err
	}
	rc, err := m.o.Blobs.Open(ctx, f.ID)
	if errors.Is(err, ErrBlobNotFound) {
		return f, nil, notFound("file content", f.ID)
	}
	if err != nil {
		return f, nil, err
	}
	return f, rc, nil
}

func (m *Manager) deleteFile(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	f, err := m.ownFile(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := m.o.Store.DeleteBatchFile(r.Context(), f.ID); err != nil {
		return err
	}
	if err := m.o.Blobs.Delete(r.Context(), f.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": f.ID, "object": "file", "deleted": true})
	return nil
}

type createBatchBody struct {
	InputFileID      string            `json:"input_file_id"`
	Endpoint         string            `json:"endpoint"`
	CompletionWindow string            `json:"completion_window"`
	Metadata         map[string]string `json:"metadata"`
}

func (m *Manager) createBatch(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var body createBatchBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		return openai.InvalidRequest("", "malformed JSON: "+err.Error())
	}
	if _, ok := endpoints[body.Endpoint]; !ok {
		return openai.InvalidRequest("endpoint", "endpoint must be /v1/chat/completions, /v1/completions or /v1/embeddings")
	}
	if body.CompletionWindow != "24h" {
		return openai.InvalidRequest("completion_window", `completion_window must be "24h"`)
	}
	if len(body.Metadata) > 16 {
		return openai.InvalidRequest("metadata", "metadata holds at most 16 pairs")
	}
	for k, v := range body.Metadata {
		if len(k) > 64 || len(v) > 512 {
			return openai.InvalidRequest("metadata", "metadata keys are at most 64 characters and values 512")
		}
	}
	f, err := m.ownFile(r.Context(), p, body.InputFileID)
	if err != nil {
		return err
	}
	if f.Purpose != "batch" {
		return openai.InvalidRequest("input_file_id", "the input file's purpose must be batch")
	}
	principal, err := json.Marshal(p)
	if err != nil {
		return err
	}
	now := m.o.Now()
	b := store.Batch{ID: newID("batch_"), Owner: p.LimitKey(), Principal: principal, Endpoint: body.Endpoint,
		InputFileID: f.ID, CompletionWindow: body.CompletionWindow, Status: store.BatchValidating,
		Metadata: body.Metadata, CreatedAt: now, ExpiresAt: now.Add(m.o.CompletionWindow)}
	if err := m.o.Store.CreateBatch(r.Context(), b); err != nil {
		return err
	}
	m.notify()
	writeJSON(w, http.StatusOK, batchJSON(b))
	return nil
}

func (m *Manager) ownBatch(ctx context.Context, p *auth.Principal, id string) (store.Batch, error) {
	b, err := m.o.Store.Batch(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && b.Owner != p.LimitKey()) {
		return b, notFound("batch", id)
	}
	return b, err
}

func (m *Manager) getBatch(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	b, err := m.ownBatch(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, batchJSON(b))
	return nil
}

func (m *Manager) listBatches(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	limit := 20
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return openai.InvalidRequest("limit", "limit must be between 1 and 100")
		}
		limit = n
	}
	bs, err := m.o.Store.ListBatches(r.Context(), p.LimitKey(), r.URL.Query().Get("after"), limit+1)
	if err != nil {
		return err
	}
	more := len(bs) > limit
	if more {
		bs = bs[:limit]
	}
	data := make([]batchObject, 0, len(bs))
	for _, b := range bs {
		data = append(data, batchJSON(b))
	}
	out := map[string]any{"object": "list", "data": data, "has_more": more, "first_id": nil, "last_id": nil}
	if len(data) > 0 {
		out["first_id"], out["last_id"] = data[0].ID, data[len(data)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cancelBatch cancels the caller's own batch (see Cancel).
func (m *Manager) cancelBatch(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	b, err := m.Cancel(r.Context(), r.PathValue("id"), p.LimitKey())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, batchJSON(b))
	return nil
}

// Cancel moves a validating or running batch to cancelling; the manager
// stops sending its lines, waits for those in flight and finishes it as
// cancelled with the answers it has. A batch already cancelling or
// cancelled is returned as it is. owner, when not empty, must own the
// batch (a principal's LimitKey); empty is an operator acting on any.
func (m *Manager) Cancel(ctx context.Context, id, owner string) (store.Batch, error) {
	for range 3 {
		b, err := m.o.Store.Batch(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && owner != "" && b.Owner != owner) {
			return b, notFound("batch", id)
		}
		if err != nil {
			return b, err
		}
		if b.Status != store.BatchValidating && b.Status != store.BatchInProgress {
			if b.Status == store.BatchCancelling || b.Status == store.BatchCancelled {
				return b, nil
			}
			return b, openai.NewError(http.StatusConflict, "a batch with status "+b.Status+" cannot be cancelled", "invalid_state")
		}
		from := b.Status
		b.Status, b.CancellingAt = store.BatchCancelling, m.o.Now()
		err = m.o.Store.UpdateBatch(ctx, b, from)
		if errors.Is(err, store.ErrConflict) {
			continue // moved on meanwhile: look again
		}
		if err != nil {
			return b, err
		}
		m.notify()
		return b, nil
	}
	return store.Batch{}, openai.NewError(http.StatusConflict, "the batch is changing status; try again", "conflict")
}
