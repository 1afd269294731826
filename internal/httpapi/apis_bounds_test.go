package httpapi_test

import (
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/auth"
)

// keyRPM1 may make one request a minute.
const keyRPM1 = "dsg_rpm1"

func init() {
	principals[keyRPM1] = &auth.Principal{ID: "k_rpm1", Kind: auth.KindKey, Role: "admin", RPM: 1}
}

// A max_tokens (max_output_tokens) out of bounds is refused before
// admission: the bad requests leave the caller's one request a minute
// unused, so the good request that follows is served and only the next
// one is limited.
func TestMaxTokensBoundBeforeAdmission(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	for _, c := range []struct{ path, body, want string }{
		{"/v1/messages", strings.Replace(messagesBody, `"max_tokens":8`, `"max_tokens":2000000`, 1), `"type":"invalid_request_error"`},
		{"/v1/messages", strings.Replace(messagesBody, `"max_tokens":8`, `"max_tokens":0`, 1), `"type":"invalid_request_error"`},
		{"/v1/responses", `{"model":"deepseek-chat","input":"hi","max_output_tokens":2000000}`, `"param":"max_output_tokens"`},
		{"/v1/responses", `{"model":"deepseek-chat","input":"hi","max_output_tokens":0}`, `"param":"max_output_tokens"`},
	} {
		code, _, body := a.do(t, "POST", c.path, keyRPM1, c.body)
		if code != 400 || !strings.Contains(string(body), c.want) {
			t.Errorf("%s %s: %d %s", c.path, c.body, code, body)
		}
	}
	if code, _, body := a.do(t, "POST", "/v1/messages", keyRPM1, messagesBody); code != 200 {
		t.Fatalf("first good request: %d %s", code, body)
	}
	if code, _, body := a.do(t, "POST", "/v1/responses", keyRPM1, responsesBody); code != 429 {
		t.Errorf("second good request: %d %s (want the limit)", code, body)
	}
}
