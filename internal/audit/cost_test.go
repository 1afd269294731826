package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// The cost fields are written (JSON and canonical encoding) only when a
// price applied, so records from before they existed keep their hashes;
// when present they are covered by the hash.
func TestCostFields(t *testing.T) {
	base := Event{ID: "a", Seq: 1, RequestID: "r", Principal: "k", Route: "POST /v1/chat/completions", Model: "m",
		Status: 200, RequestAt: time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC), ResponseAt: time.Date(2026, 12, 3, 1, 0, 1, 0, time.UTC),
		PrevHash: ZeroHash}
	unpriced := base.ComputeHash()
	if bytes.Contains(base.appendJSON(nil), []byte("cost")) {
		t.Errorf("unpriced record carries cost fields: %s", base.appendJSON(nil))
	}

	priced := base
	priced.Cost, priced.CostSaved, priced.Currency = 624_000, 1_000, "USD"
	line := priced.appendJSON(nil)
	var back Event
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatal(err)
	}
	if back.Cost != 624_000 || back.CostSaved != 1_000 || back.Currency != "USD" {
		t.Errorf("round trip %s -> %+v", line, back)
	}
	h := priced.ComputeHash()
	if h == unpriced {
		t.Error("the cost fields are not covered by the hash")
	}
	tampered := priced
	tampered.Cost--
	if tampered.ComputeHash() == h {
		t.Error("a changed cost keeps the hash")
	}
	// A response-cache hit costs nothing but carries its currency and
	// savings; a zero cost is still hashed.
	hit := base
	hit.CostSaved, hit.Currency = 5, "CNY"
	if hit.ComputeHash() == unpriced {
		t.Error("a zero-cost priced record hashes like an unpriced one")
	}
}
