package server_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/dsgate/dsgate/internal/sim"
)

// TestHostileBodiesOverHTTP: the smuggling bodies of issue 13 are refused
// with a 400 naming the key, and a model name that is not valid UTF-8
// gets one well-formed 404 (it used to panic in the metrics and answer two
// concatenated JSON objects).
func TestHostileBodiesOverHTTP(t *testing.T) {
	t.Parallel()
	e := start(t, twoSims, map[string]sim.Options{"bad": {}, "good": {}})
	for _, tt := range []struct{ body, param string }{
		{`{"model":"deepseek-chat","MODEL":"deepseek-reasoner","messages":[{"role":"user","content":"hi"}]}`, "MODEL"},
		{`{"model":"deepseek-chat","max_tokens":1,"Max_Tokens":3000,"messages":[{"role":"user","content":"hi"}]}`, "Max_Tokens"},
		{`{"model":"deepseek-chat","stream":false,"STREAM":true,"messages":[{"role":"user","content":"hi"}]}`, "STREAM"},
	} {
		resp, body := e.post(t, "/v1/chat/completions", tt.body)
		var v struct {
			Error struct {
				Param string `json:"param"`
			} `json:"error"`
		}
		if resp.StatusCode != 400 || json.Unmarshal(body, &v) != nil || v.Error.Param != tt.param {
			t.Errorf("%s: %d %s; want 400 naming %s", tt.body, resp.StatusCode, body, tt.param)
		}
	}
	resp, body := e.post(t, "/v1/chat/completions", "{\"model\":\"deepseek-\xff\xfe\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
	dec := json.NewDecoder(bytes.NewReader(body))
	var first map[string]any
	if resp.StatusCode != 400 || dec.Decode(&first) != nil || dec.More() {
		t.Errorf("non-UTF-8 model: %d %q; want one well-formed 400", resp.StatusCode, body)
	}
	// And the server still serves.
	if resp, body := e.post(t, "/v1/chat/completions", chatBody); resp.StatusCode != 200 {
		t.Errorf("after the hostile bodies: %d %s", resp.StatusCode, body)
	}
}
