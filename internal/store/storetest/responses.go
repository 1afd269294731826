package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/store"
)

// testResponses checks stored responses: put, replace, per-owner
// isolation and delete.
func testResponses(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	r := store.StoredResponse{ID: "resp_1", Owner: "key:a", Model: "m", Input: []byte(`[]`), Response: []byte(`{"id":"resp_1"}`), CreatedAt: at}
	if err := s.PutResponse(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.Response = []byte(`{"id":"resp_1","v":2}`)
	if err := s.PutResponse(ctx, r); err != nil {
		t.Fatalf("replacing: %v", err)
	}
	got, err := s.Response(ctx, "key:a", "resp_1")
	if err != nil || string(got.Response) != `{"id":"resp_1","v":2}` || string(got.Input) != `[]` || got.Model != "m" || !got.CreatedAt.Equal(at) {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := s.Response(ctx, "key:b", "resp_1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another owner reads it: %v", err)
	}
	if err := s.DeleteResponse(ctx, "key:b", "resp_1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another owner deletes it: %v", err)
	}
	if err := s.DeleteResponse(ctx, "key:a", "resp_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Response(ctx, "key:a", "resp_1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}
