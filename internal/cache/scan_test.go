package cache

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// scanAnswer reads what encoding/json reads, or says it cannot: issue 22
// took encoding/json off the miss path of every cached request.
var scanCases = []string{
	`{"id":"c","object":"chat.completion","model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4,"prompt_cache_hit_tokens":2,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":5}}}`,
	`{"object":"list","data":[{"embedding":[0.1]}],"model":"e","usage":{"prompt_tokens":2,"total_tokens":2}}`,
	`{"choices":[{"finish_reason":"length"},{"finish_reason":"tool_calls"}]}`,
	`{"choices":[{"finish_reason":"stop"},{"finish_reason":null}]}`, `{"choices":[{"finish_reason":"content_filter"}]}`,
	`{"choices":[null]}`, `{"choices":[]}`, `{"choices":null}`, `{"choices":{}}`, `{"choices":[1]}`, `{"choices":[{}]}`,
	`{"error":{"message":"x"},"choices":[{"finish_reason":"stop"}]}`, `{"error":null,"choices":[{"finish_reason":"stop"}]}`,
	`{"object":"list","data":null}`, `{"object":"list"}`, `{"object":5}`, `{"model":null}`, `{"model":7}`,
	`{"Model":"x","choices":[{"finish_reason":"stop"}]}`, `{"model":"a","model":"b"}`, `{"model":"\u0061"}`, "{\"model\":\"a\xff\"}",
	`{"choices":[{"Finish_Reason":"stop"}]}`, `{"choices":[{"finish_reason":"st\u006fp"}]}`, `{"choices":[{"finish_reason":"stop","finish_reason":null}]}`,
	`{"usage":{"prompt_tokens":1.0}}`, `{"usage":{"prompt_tokens":1e2}}`, `{"usage":{"prompt_tokens":-3}}`, `{"usage":{"prompt_tokens":"3"}}`,
	`{"usage":{"prompt_tokens":99999999999999999999}}`, `{"usage":{"prompt_tokens":1,"prompt_tokens":2}}`, `{"usage":null}`, `{"usage":[]}`,
	`{"usage":{"prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":null}}}`, `{"usage":{"PROMPT_TOKENS":4}}`,
	`{"usage":{"prompt_tokens_details":{"cached_tokens":1},"prompt_tokens_details":{"cached_tokens":2}}}`, `{"usage":{"prompt_tokens_details":7}}`,
	`{"x":[1,{"a":null}],"choices":[{"finish_reason":"stop"}]} `, `{"ẞ":1}`, `null`, `[]`, `{"a":1`, `{"a":1}x`, ``, ` `, `{}`,
}

func TestScanAnswerMatchesEncodingJSON(t *testing.T) {
	for _, c := range scanCases {
		checkScan(t, []byte(c))
	}
	// The answers an upstream sends are read by the scan, not left to
	// encoding/json.
	for _, c := range scanCases[:4] {
		if _, _, ok := scanAnswer([]byte(c)); !ok {
			t.Errorf("scanAnswer(%s) left it to encoding/json", c)
		}
	}
}

func FuzzScanAnswer(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkScan(t, b) })
}

func checkScan(t *testing.T, b []byte) {
	t.Helper()
	now := time.Unix(1, 0)
	got, gotStorable, gotErr := NewCheckedEntry(b, nil, "", now)
	want, wantStorable, wantErr := checkedEntryJSON(b, nil, "", now)
	if (gotErr != nil) != (wantErr != nil) || gotStorable != wantStorable {
		t.Errorf("%q: storable %v, error %v; encoding/json: %v, %v", b, gotStorable, gotErr, wantStorable, wantErr)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%q: entry (-encoding/json +scan):\n%s", b, diff)
	}
}
