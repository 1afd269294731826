package gateway

import "testing"

// carriesText is a byte search run on every chunk (openai.StringMemberAt):
// one search per key whatever the spacing (issue 14: the spaced and unspaced
// forms were two searches each, and the per-chunk searches were a tenth
// of a stream's CPU).
func TestCarriesText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		chunk string
		want  bool
	}{
		{`{"choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]}`, true},
		{`{"choices":[{"index":0,"delta":{"content" : "tok"}}]}`, true},
		{`{"choices":[{"delta":{"role":"assistant","content":""},"finish_reason":null}]}`, false},
		{`{"choices":[{"delta":{"content":null,"reasoning_content":"think"}}]}`, true},
		{`{"choices":[{"delta":{"content":"","reasoning_content": ""}}]}`, false},
		{`{"choices":[{"text":"x","index":0}]}`, true},
		{`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}`, true},
		{`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":""}}]}}]}`, false},
		{`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`, false},
		{`{"choices":[],"usage":{"prompt_tokens":1}}`, false},
		// the second choice carries text, the first does not
		{`{"choices":[{"index":0,"delta":{"content":""}},{"index":1,"delta":{"content":"b"}}]}`, true},
		// a quoted key inside a string is escaped: never a member
		{`{"choices":[{"delta":{"role":"assistant","content":""},"x":"say \"content\":\"no\""}]}`, false},
		{`{"content"`, false},
		{`{"content":`, false},
		{`{"content":"`, false},
	} {
		if got := carriesText([]byte(tc.chunk)); got != tc.want {
			t.Errorf("carriesText(%s) = %v, want %v", tc.chunk, got, tc.want)
		}
	}
}
