package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/sim"
)

// hostileCachePost sends body with the given header lines (name, value
// pairs; a name may repeat) and returns the X-Dsgate-Cache result.
func hostileCachePost(t *testing.T, e *env, body string, lines ...string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(lines); i += 2 {
		req.Header.Add(lines[i], lines[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return resp.Header.Get("X-Dsgate-Cache")
}

// Cache-Control is a list header: two field lines mean the same as one
// line joining them with a comma (RFC 9110 section 5.3), and proxies and
// SDK middlewares add their own line. A no-store on the second line must
// keep the answer out of the cache as it does on the first.
func TestHostileCacheNoStoreOnSecondCacheControlLine(t *testing.T) {
	t.Parallel()
	e := start(t, cacheConfig(""), map[string]sim.Options{"a": {}})
	body := strings.Replace(det, "cache me", "private, do not keep", 1)
	first := hostileCachePost(t, e, body, "Cache-Control", "max-age=60", "Cache-Control", "no-store")
	again := hostileCachePost(t, e, body)
	if first != "bypass" || again == "hit" {
		t.Errorf("Cache-Control: max-age=60 + Cache-Control: no-store gave %q, and the next identical request %q: "+
			"the no-store line was ignored and the answer stored", first, again)
	}
}
