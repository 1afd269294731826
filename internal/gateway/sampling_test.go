package gateway

import (
	"testing"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/openai"
)

// Issue 22: the cache decides on what openai.Parse read of a request
// instead of decoding the body again with encoding/json. Both agree on
// the requests below. Where they differ, sampling is the better judge: an
// embeddings request that also has a messages key is still an embeddings
// request (cacheable), temperature 1e-400 is 0 to every upstream
// (cacheable), and best_of "1", a string, is left uncached.
func TestSamplingMatchesCacheableRequest(t *testing.T) {
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	chat := func(extra string) string { return `{"model":"m",` + msgs + extra + `}` }
	cases := []struct {
		e    openai.Endpoint
		body string
	}{
		{openai.EndpointChat, chat(``)},
		{openai.EndpointChat, chat(`,"temperature":0`)},
		{openai.EndpointChat, chat(`,"temperature":0.0`)},
		{openai.EndpointChat, chat(`,"temperature":-0`)},
		{openai.EndpointChat, chat(`,"temperature":0e3`)},
		{openai.EndpointChat, chat(`,"temperature":0.7`)},
		{openai.EndpointChat, chat(`,"temperature":null`)},
		{openai.EndpointChat, chat(`,"seed":7`)},
		{openai.EndpointChat, chat(`,"seed":null`)},
		{openai.EndpointChat, chat(`,"seed":"x"`)},
		{openai.EndpointChat, chat(`,"temperature":1,"seed":0`)},
		{openai.EndpointChat, chat(`,"temperature":0,"n":1`)},
		{openai.EndpointChat, chat(`,"temperature":0,"n":2`)},
		{openai.EndpointChat, chat(`,"temperature":0,"n":null`)},
		{openai.EndpointCompletion, `{"model":"m","prompt":"a","temperature":0,"best_of":1}`},
		{openai.EndpointCompletion, `{"model":"m","prompt":"a","temperature":0,"best_of":1.0}`},
		{openai.EndpointCompletion, `{"model":"m","prompt":"a","temperature":0,"best_of":3}`},
		{openai.EndpointCompletion, `{"model":"m","prompt":"a","temperature":0,"best_of":null}`},
		{openai.EndpointCompletion, `{"model":"m","prompt":"a","seed":1,"best_of":true}`},
		{openai.EndpointCompletion, `{"model":"m","prompt":"a","suffix":"b"}`},
		{openai.EndpointFIM, `{"model":"m","prompt":"a","suffix":"b","temperature":0}`},
		{openai.EndpointEmbedding, `{"model":"m","input":"a"}`},
		{openai.EndpointEmbedding, `{"model":"m","input":["a","b"],"encoding_format":"float"}`},
	}
	for _, c := range cases {
		q, err := openai.Parse(c.e, []byte(c.body))
		if err != nil {
			t.Errorf("Parse(%s): %v", c.body, err)
			continue
		}
		for _, p := range []cache.Policy{{}, {AllowSampled: true}} {
			for _, thinking := range []bool{false, true} {
				got, gotWhy := sampling(q).Cacheable(p, thinking)
				want, wantWhy := cache.CacheableRequest([]byte(c.body), p, thinking)
				// encoding/json refuses a best_of of the wrong type
				// outright: not cacheable either, for another reason.
				if got != want || gotWhy != wantWhy && wantWhy != "invalid JSON body" {
					t.Errorf("%s (%+v, thinking %v): %v %q, CacheableRequest says %v %q", c.body, p, thinking, got, gotWhy, want, wantWhy)
				}
			}
		}
	}
	// The keys the cache reads are guarded like the others: a case
	// variant or a duplicate is refused, not read one way by the cache
	// and another by the upstream.
	for _, body := range []string{chat(`,"Seed":1`), chat(`,"seed":1,"seed":null`), chat(`,"BEST_OF":2`)} {
		if _, err := openai.Parse(openai.EndpointChat, []byte(body)); err == nil {
			t.Errorf("Parse(%s) accepted it", body)
		}
	}
}
