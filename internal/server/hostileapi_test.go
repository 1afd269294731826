package server_test

// Hostile-tenant tests of the Responses API over the whole server.

import (
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/sim"
)

// hostileStoredResponses runs a gateway with authentication, a SQLite store
// (so Responses are stored) and server.max_body_bytes set to limit; it
// returns the environment and a developer key.
func hostileStoredResponses(t *testing.T, limit string) (*authEnv, string) {
	t.Helper()
	e := startAuthWith(t, t.TempDir(), "max_body_bytes: "+limit, "", sim.Options{})
	return e, e.adminCreateKey(t, `{"name":"tenant","role":"developer"}`)
}

// server.max_body_bytes bounds what one request can make the gateway hold,
// parse, translate and store. previous_response_id escapes it: the stored
// conversation is read back and spliced before the new input
// (responses.WithHistory), and that complete request, however large, is
// validated, translated, sent and stored again as the new response's
// input. Each turn can add a whole body, so a chain of N turns stores
// O(N²) bytes in the shared control-plane store (no expiry) and makes
// every later request load O(N) bodies into memory before admission. The
// input items may even carry fields the translator ignores: stored and
// carried forward, never sent upstream, never charged.
//
// The complete request of a turn is what a stateless client would have
// sent; over the limit it must be refused (413) as that body is.
func TestHostileResponsesHistoryEscapesBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 65536
	e, key := hostileStoredResponses(t, "65536")
	filler := strings.Repeat("x", 40<<10) // each turn is well under the limit
	turn := func(prev string) (int, string, int) {
		body := `{"model":"deepseek-chat","max_output_tokens":4,"input":[{"role":"user","content":"` + filler + `"}]`
		if prev != "" {
			body += `,"previous_response_id":"` + prev + `"`
		}
		body += `}`
		resp, out := e.do(t, "POST", "/v1/responses", key, body)
		return resp.StatusCode, string(out), len(body)
	}
	code, out, _ := turn("")
	first := hostileRespID(out)
	if code != 200 || first == "" {
		t.Fatalf("first turn: %d %.300s", code, out)
	}
	code, out, size := turn(first)
	if code == 200 {
		second := hostileRespID(out)
		resp, items := e.do(t, "GET", "/v1/responses/"+second+"/input_items", key, "")
		t.Errorf("a %d-byte request continuing %s was served (200) although its complete request exceeds server.max_body_bytes (%d); "+
			"its stored input is %d bytes (GET input_items: %d)", size, first, limit, len(items), resp.StatusCode)
	} else if code != 413 {
		t.Errorf("second turn: %d %.300s; want 413, as for a body over the limit", code, out)
	}
}

// hostileRespID is the first response id ("resp_...") in out.
func hostileRespID(out string) string {
	i := strings.Index(out, `"id":"resp_`)
	if i < 0 {
		return ""
	}
	s := out[i+len(`"id":"`):]
	return s[:strings.IndexByte(s, '"')]
}
