package batch_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/usage"
)

// discardUsage is a usage store that keeps nothing: the tests read the
// recorder's own count of records.
type discardUsage struct{}

func (discardUsage) AddUsage(context.Context, []store.UsageDelta) error { return nil }

// flushSpy notes how many usage records existed when the answer was
// flushed, and fails the flush when told to (a client gone).
type flushSpy struct {
	*httptest.ResponseRecorder
	rec     *usage.Recorder
	fail    bool
	flushed bool
	atFlush uint64
}

func (w *flushSpy) FlushError() error {
	w.flushed, w.atFlush = true, w.rec.Stats().Records
	if w.fail {
		return errors.New("client gone")
	}
	return nil
}

// POST /v1/batch records its items' usage after its answer is flushed,
// never before, and not at all when the flush fails: a batch never
// delivered is never charged (the e2e SIGKILL test found an answer charged
// while net/http still held it).
func TestSyncBatchIsChargedAfterItsFlush(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		rec := usage.New(discardUsage{}, usage.Options{})
		s := newStack(t, stackOptions{usage: rec})
		r := httptest.NewRequest("POST", "/v1/batch", strings.NewReader(`{"model":"deepseek-chat","requests":[{"id":"a","prompt":"one"},{"id":"b","prompt":"two"}]}`))
		r.Header.Set("Authorization", "Bearer "+keyAdmin)
		w := &flushSpy{ResponseRecorder: httptest.NewRecorder(), rec: rec, fail: fail}
		s.syncAPI.ServeHTTP(w, r)
		if w.Code != http.StatusOK || !w.flushed {
			t.Fatalf("fail=%v: status %d, flushed %v: %s", fail, w.Code, w.flushed, w.Body)
		}
		want := uint64(2)
		if fail {
			want = 0
		}
		if w.atFlush != 0 || rec.Stats().Records != want {
			t.Errorf("fail=%v: %d usage records at the flush, %d after; want 0 and %d", fail, w.atFlush, rec.Stats().Records, want)
		}
	}
}
