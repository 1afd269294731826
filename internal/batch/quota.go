package batch

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/store"
)

// QuotaOptions bound what one principal may put in the Files API (issue 13:
// one key uploaded 120 files in 149 ms and stored 121 MB). They apply per
// replica for the rate and in-flight bounds, and across replicas for the
// stored bytes (read from the store).
type QuotaOptions struct {
	// UploadsPerMinute per principal; default 30, negative: unlimited.
	UploadsPerMinute int
	// MaxStoredBytes is the total size of one principal's unexpired files
	// (uploads and batch outputs); default 2 GiB, negative: unlimited.
	MaxStoredBytes int64
	// MaxConcurrentUploads per principal; default 2.
	MaxConcurrentUploads int
}

// quota enforces QuotaOptions. The upload counts live in a bounded cache;
// the in-flight map holds only principals uploading now.
type quota struct {
	o        QuotaOptions
	now      func() time.Time
	windows  *otter.Cache[string, uploadWindow]
	mu       sync.Mutex
	inFlight map[string]*ownerUploads
}

type uploadWindow struct {
	start time.Time
	n     int
}

// ownerUploads is one principal's uploads in progress. An upload's bytes
// are reserved by check and moved at end (to the store, as far as the
// quota knows). An upload counts the bytes moved since it read the store,
// as that read may have missed them: never less than the truth.
type ownerUploads struct {
	n        int   // uploads in progress
	reserved int64 // bytes of in-progress uploads that passed check
	moved    int64 // bytes of uploads ended while this entry existed
}

func newQuota(o QuotaOptions, now func() time.Time) *quota {
	if o.UploadsPerMinute == 0 {
		o.UploadsPerMinute = 30
	}
	if o.MaxStoredBytes == 0 {
		o.MaxStoredBytes = 2 << 30
	}
	if o.MaxConcurrentUploads <= 0 {
		o.MaxConcurrentUploads = 2
	}
	return &quota{o: o, now: now, inFlight: map[string]*ownerUploads{},
		windows: otter.Must(&otter.Options[string, uploadWindow]{
			MaximumSize:      100000,
			ExpiryCalculator: otter.ExpiryWriting[string, uploadWindow](time.Minute),
		})}
}

// upload is one admitted upload; end must be called once.
type upload struct {
	q       *quota
	owner   string
	o       *ownerUploads
	movedAt int64 // o.moved before the store was read
	stored  int64 // the owner's unexpired bytes in the store at begin
	size    int64 // reserved by check
}

// begin admits an upload by owner: within the rate, the concurrent
// uploads and (already) under the storage quota.
func (q *quota) begin(ctx context.Context, st store.BatchStore, owner string) (*upload, error) {
	if err := q.rate(owner); err != nil {
		return nil, err
	}
	q.mu.Lock()
	o := q.inFlight[owner]
	if o == nil {
		o = &ownerUploads{}
		q.inFlight[owner] = o
	}
	if o.n >= q.o.MaxConcurrentUploads {
		q.mu.Unlock()
		return nil, openai.NewError(http.StatusTooManyRequests,
			fmt.Sprintf("at most %d uploads at once per principal", q.o.MaxConcurrentUploads), "rate_limit_exceeded")
	}
	o.n++
	u := &upload{q: q, owner: owner, o: o, movedAt: o.moved}
	q.mu.Unlock()
	if q.o.MaxStoredBytes < 0 {
		return u, nil
	}
	stored, err := q.storedBytes(ctx, st, owner)
	if err == nil && stored >= q.o.MaxStoredBytes {
		err = q.full(stored)
	}
	if err != nil {
		u.end()
		return nil, err
	}
	u.stored = stored
	return u, nil
}

// rate counts one upload in owner's one-minute window.
func (q *quota) rate(owner string) error {
	if q.o.UploadsPerMinute < 0 {
		return nil
	}
	now := q.now()
	var over bool
	var retry time.Duration
	q.windows.Compute(owner, func(w uploadWindow, found bool) (uploadWindow, otter.ComputeOp) {
		if !found || now.Sub(w.start) >= time.Minute {
			w = uploadWindow{start: now}
		}
		if w.n >= q.o.UploadsPerMinute {
			over, retry = true, w.start.Add(time.Minute).Sub(now)
			return w, otter.CancelOp
		}
		w.n++
		return w, otter.WriteOp
	})
	if over {
		return openai.NewError(http.StatusTooManyRequests, fmt.Sprintf(
			"at most %d file uploads a minute per principal; retry in %ds", q.o.UploadsPerMinute, int(retry.Seconds())+1), "rate_limit_exceeded")
	}
	return nil
}

func (q *quota) storedBytes(ctx context.Context, st store.BatchStore, owner string) (int64, error) {
	files, err := st.ListBatchFiles(ctx, owner)
	if err != nil {
		return 0, err
	}
	now := q.now()
	var n int64
	for _, f := range files {
		if f.ExpiresAt.IsZero() || f.ExpiresAt.After(now) {
			n += f.Bytes
		}
	}
	return n, nil
}

func (q *quota) full(stored int64) error {
	e := openai.NewError(http.StatusBadRequest, fmt.Sprintf(
		"storage quota reached: %d of %d bytes in use; delete files (DELETE /v1/files/{id}) to upload more",
		stored, q.o.MaxStoredBytes), "storage_quota_exceeded")
	e.Param = "file"
	return e
}

// check reserves size bytes, refusing when the owner's stored bytes, the
// uploads of the owner that passed check and size exceed the quota.
func (u *upload) check(size int64) error {
	q := u.q
	if q.o.MaxStoredBytes < 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	o := u.o
	inUse := u.stored + o.reserved + (o.moved - u.movedAt)
	if inUse+size > q.o.MaxStoredBytes {
		return q.full(inUse)
	}
	o.reserved += size
	u.size = size
	return nil
}

// end releases the upload's place and reservation (the file, if created,
// is in the store by now and counted there).
func (u *upload) end() {
	q := u.q
	q.mu.Lock()
	defer q.mu.Unlock()
	o := u.o
	o.n--
	o.reserved -= u.size
	o.moved += u.size
	if o.n == 0 {
		delete(q.inFlight, u.owner)
	}
}
