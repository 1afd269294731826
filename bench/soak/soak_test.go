package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSlotMix checks the mix of every 20 requests that the report states.
func TestSlotMix(t *testing.T) {
	kinds, keys := map[kind]int{}, map[string]int{}
	for n := range 20 {
		k, key := slot(n)
		kinds[k]++
		keys[key]++
	}
	want := map[kind]int{kindStream: 6, kindPlain: 6, kindCached: 4, kindBad: 1, kindLimited: 3}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%s: %d per 20, want %d", k, kinds[k], n)
		}
	}
	if keys["limited"] != 3 || keys["main"] != 9 || keys["second"] != 8 {
		t.Errorf("keys per 20: %v", keys)
	}
	for n := range 40 {
		k, _ := slot(n)
		if !json.Valid([]byte(body(k, n))) {
			t.Errorf("body of request %d (%s) is not JSON: %s", n, k, body(k, n))
		}
	}
	// Cacheable requests repeat a few prompts; the others are unique.
	if body(kindCached, 2) != body(kindCached, 8) || body(kindPlain, 1) == body(kindPlain, 4) {
		t.Error("cacheable bodies must repeat and sampled ones must not")
	}
}

func TestReadStream(t *testing.T) {
	cases := []struct {
		name, in, class string
		completion      int64
	}{
		{"complete", "data: {\"choices\":[]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":7}}\n\ndata: [DONE]\n\n", "ok", 7},
		{"error event", "data: {\"choices\":[]}\n\ndata: {\"error\":{\"message\":\"upstream failed\"}}\n\n", "stream error", 0},
		{"cut", "data: {\"choices\":[]}\n\n", "stream error", 0},
	}
	for _, c := range cases {
		var o outcome
		readStream(strings.NewReader(c.in), &o)
		if o.class != c.class {
			t.Errorf("%s: class %q, want %q", c.name, o.class, c.class)
		}
		if c.completion != 0 && (o.usage == nil || o.usage.Completion != c.completion) {
			t.Errorf("%s: usage %+v", c.name, o.usage)
		}
	}
}

func TestExpected(t *testing.T) {
	if !expected(kindLimited, outcome{class: "429"}) || expected(kindPlain, outcome{class: "429"}) ||
		!expected(kindBad, outcome{class: "400"}) || expected(kindStream, outcome{class: "stream error"}) {
		t.Error("expected() disagrees with the mix's normal answers")
	}
}

// TestReadAudit counts API records per principal and status, once per id,
// and leaves out other routes.
func TestReadAudit(t *testing.T) {
	in := `{"id":"a","principal":"k1","route":"POST /v1/chat/completions","status":200}
{"id":"b","principal":"k1","route":"POST /v1/chat/completions","status":429}
{"id":"a","principal":"k1","route":"POST /v1/chat/completions","status":200}
{"id":"c","principal":"adm","route":"GET /admin/usage","status":200}
{"id":"d","principal":"","route":"GET /metrics","status":200}
not json
`
	ac := &auditCounts{byPrincipal: map[string]map[int]int{}}
	if err := ac.read(strings.NewReader(in), map[string]bool{}); err != nil {
		t.Fatal(err)
	}
	if !sameCounts(ac.byPrincipal["k1"], map[int]int{200: 1, 429: 1}) || len(ac.byPrincipal) != 1 {
		t.Errorf("by principal: %v", ac.byPrincipal)
	}
	if ac.records != 2 || ac.duplicates != 1 || ac.bad != 1 {
		t.Errorf("records %d duplicates %d bad %d", ac.records, ac.duplicates, ac.bad)
	}
}

func TestAdmitted(t *testing.T) {
	if n := admitted(map[int]int{200: 5, 400: 2, 429: 3, 503: 1, 504: 1}); n != 7 {
		t.Errorf("admitted = %d, want 7", n)
	}
}

func TestGrowth(t *testing.T) {
	first, last, ratio, ok := growth([]float64{10, 10, 11, 12, 13, 20})
	if !ok || first != 10 || last != 16.5 || ratio != 1.65 {
		t.Errorf("growth = %v %v %v %v", first, last, ratio, ok)
	}
	if _, _, _, ok := growth([]float64{1, 2}); ok {
		t.Error("two samples cannot show a trend")
	}
}
