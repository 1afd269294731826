package cache_test

import (
	"encoding/json"
	"testing"

	"github.com/dsgate/dsgate/internal/cache"
)

// Numbers are canonicalized by exact decimal value, so 9007199254740993
// and 9007199254740993.0 share a key. Upstreams do not read them alike:
// Python (vLLM, SGLang) and JavaScript read a number with a fraction or
// an exponent as a float64, 9007199254740992, and an integer literal
// exactly, so the two requests are sampled with different seeds and get
// different answers. With cache.shared one tenant's answer for one seed
// is served to another tenant asking for the other.
func TestHostileCacheKeyFloatSpelledSeedIsAnotherSeed(t *testing.T) {
	asInt := `{"model":"m","seed":9007199254740993,"temperature":0.7,"messages":[{"role":"user","content":"hi"}]}`
	asFloat := `{"model":"m","seed":9007199254740993.0,"temperature":0.7,"messages":[{"role":"user","content":"hi"}]}`
	var f struct{ Seed float64 } // what a float64 reader takes the float spelling for
	json.Unmarshal([]byte(asFloat), &f)
	if int64(f.Seed) != 9007199254740992 {
		t.Fatalf("precondition: float reading gives %v", f.Seed)
	}
	parts := cache.KeyParts{PublicModel: "m", UpstreamModel: "m", Scope: "shared"}
	k1, err1 := cache.DeriveKey("chat", []byte(asInt), parts)
	k2, err2 := cache.DeriveKey("chat", []byte(asFloat), parts)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if k1 == k2 {
		t.Errorf("seed 9007199254740993 and 9007199254740993.0 (read upstream as 9007199254740992) share cache key %s", k1)
	}
}
