package httpapi

import (
	"os"
	"testing"

	"github.com/dsgate/dsgate/internal/openai"
)

// TestCompletionReaderAsGateway: what completionReader tells the gateway
// of an answer (gateway.AnswerReader) is what the gateway reads itself
// without one: the usage openai.UsageOf reads (none for none, or null),
// and the finish reason that marks DeepSeek's partial answer.
func TestCompletionReaderAsGateway(t *testing.T) {
	var bodies []string
	for _, f := range []string{"chat_response_text.json", "chat_response_tool.json"} {
		b, err := os.ReadFile("../chatwire/testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	bodies = append(bodies,
		`{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`,
		`{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"length"}],"usage":null}`,
		`{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"hal"},"finish_reason":"insufficient_system_resource"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`,
		`{"usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42,"prompt_cache_hit_tokens":8,"prompt_cache_miss_tokens":4,`+
			`"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":20}},`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":null,"reasoning_content":"r"},"finish_reason":"stop"}],"model":"m","id":"c"}`,
		`{"id":"c","choices":[],"usage":{}}`,
	)
	for _, body := range bodies {
		var cr completionReader
		u, has, finish, ok := cr.ReadAnswer([]byte(body))
		if !ok {
			t.Errorf("%s: not read", body)
			continue
		}
		wantU, wantHas := openai.UsageOf([]byte(body))
		if has != wantHas || !sameUsage(u, wantU) {
			t.Errorf("%s:\nusage %+v (has %v), UsageOf %+v (has %v)", body, u, has, wantU, wantHas)
		}
		if partial := finish == "insufficient_system_resource"; partial != (body == bodies[4]) {
			t.Errorf("%s: finish %q", body, finish)
		}
		cr.release()
	}

	// Not a completion: not read, and nothing to translate from.
	var cr completionReader
	defer cr.release()
	body := []byte(`{"choices":{"index":0}}`)
	if _, _, _, ok := cr.ReadAnswer(body); ok || cr.of(body) != nil {
		t.Errorf("%s read as a completion", body)
	}
}

func sameUsage(a, b openai.Usage) bool {
	pa, pb := a.PromptTokensDetails, b.PromptTokensDetails
	ca, cb := a.CompletionTokensDetails, b.CompletionTokensDetails
	a.PromptTokensDetails, b.PromptTokensDetails, a.CompletionTokensDetails, b.CompletionTokensDetails = nil, nil, nil, nil
	return a == b && (pa == nil) == (pb == nil) && (pa == nil || *pa == *pb) && (ca == nil) == (cb == nil) && (ca == nil || *ca == *cb)
}

// TestCompletionReaderOf: the translation back takes the completion read
// only for the very answer read last: not for the same bytes elsewhere (a
// cache hit, the fallback response), not after a reading that failed.
func TestCompletionReaderOf(t *testing.T) {
	var cr completionReader
	defer cr.release()
	good := []byte(`{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	if _, _, _, ok := cr.ReadAnswer(good); !ok {
		t.Fatal("not read")
	}
	if c := cr.of(good); c == nil || c.Content.String() != "hi" {
		t.Fatalf("of(the answer read) = %v", c)
	}
	if cr.of(append([]byte(nil), good...)) != nil {
		t.Error("a copy of the answer read counts as it")
	}
	if cr.of(nil) != nil || cr.of(good[:len(good)-1]) != nil {
		t.Error("another answer counts as the one read")
	}
	if _, _, _, ok := cr.ReadAnswer([]byte(`{"choices":7}`)); ok {
		t.Fatal("read")
	}
	if cr.of(good) != nil {
		t.Error("the answer read before a reading that failed still counts")
	}
}
