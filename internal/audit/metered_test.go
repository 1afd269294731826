package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// metered (the principal kind a request's usage was recorded under) is
// written only when set, so older records keep their hashes, and is
// covered by the hash when present.
func TestMeteredField(t *testing.T) {
	base := Event{ID: "a", Seq: 1, RequestID: "r", Principal: "k", Route: "POST /v1/chat/completions", Model: "m",
		Status: 200, RequestAt: time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC), ResponseAt: time.Date(2026, 12, 3, 1, 0, 1, 0, time.UTC),
		PrevHash: ZeroHash}
	before := base.ComputeHash()
	if bytes.Contains(base.appendJSON(nil), []byte("metered")) {
		t.Errorf("unmetered record carries the field: %s", base.appendJSON(nil))
	}
	m := base
	m.Metered = "key"
	var back Event
	if err := json.Unmarshal(m.appendJSON(nil), &back); err != nil || back.Metered != "key" {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	h := m.ComputeHash()
	if h == before {
		t.Error("metered is not covered by the hash")
	}
	m.Metered = "client"
	if m.ComputeHash() == h {
		t.Error("a changed metered kind keeps the hash")
	}
}
