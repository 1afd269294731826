//go:build !race

package cache

import (
	"testing"
	"time"
)

// Allocation counts of the cache's per-request decoding on a miss
// (bench/cpu, issue 22). The race detector allocates, so these build
// without it; scripts/test.sh runs them in its "-run Allocs" step.

func TestCacheableRequestAllocs(t *testing.T) {
	body := []byte(`{"model":"deepseek-chat","messages":[{"role":"system","content":"Be brief."},` +
		`{"role":"user","content":"Say hello."}],"max_tokens":16,"temperature":0,"stream":false}`)
	got := testing.AllocsPerRun(100, func() {
		if ok, reason := CacheableRequest(body, Policy{}, false); !ok {
			t.Fatal(reason)
		}
	})
	// encoding/json's own; the messages array is no longer copied into a
	// json.RawMessage (one allocation of the conversation's size).
	if got > 11 {
		t.Fatalf("CacheableRequest: %.0f allocations, want at most 11", got)
	}
}

func TestNewCheckedEntryAllocs(t *testing.T) {
	body := []byte(`{"id":"x","object":"chat.completion","model":"deepseek-chat","choices":[{"index":0,` +
		`"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":16,"total_tokens":28}}`)
	now := time.Now()
	got := testing.AllocsPerRun(100, func() {
		if _, ok, err := NewCheckedEntry(body, nil, "deepseek-chat", now); err != nil || !ok {
			t.Fatal(err, ok)
		}
	})
	separate := testing.AllocsPerRun(100, func() {
		NewEntry(body, nil, "deepseek-chat", now)
		Storable(body)
	})
	// One decode instead of two: 14 against 21 allocations (and half the
	// scanning) when this was written.
	if got > 14 || got >= separate {
		t.Fatalf("NewCheckedEntry: %.0f allocations, want at most 14 and fewer than NewEntry+Storable's %.0f", got, separate)
	}
}

// A key is derived in its own buffer and nothing else: the canonicalizer's
// members stack, reorder buffer and digits are reused from key to key
// (they grew anew for each before: seven allocations for this body).
func TestDeriveKeyAllocs(t *testing.T) {
	body := []byte(`{"model":"deepseek-chat","messages":[{"role":"system","content":"Be brief."},` +
		`{"role":"user","content":"Say hello."}],"max_tokens":16,"temperature":0.7,"stream":false}`)
	parts := KeyParts{PublicModel: "deepseek-chat", UpstreamModel: "deepseek-chat", Scope: "key_1"}
	got := testing.AllocsPerRun(100, func() {
		if _, err := DeriveKey("chat.completions", body, parts); err != nil {
			t.Fatal(err)
		}
	})
	if got > 1 {
		t.Fatalf("DeriveKey: %.0f allocations, want 1", got)
	}
}
