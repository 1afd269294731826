package cache

import (
	"encoding/json"
	"testing"
)

// checkEncoding compares appendChatCompletion with json.Marshal.
func checkEncoding(t *testing.T, out *chatCompletion) {
	t.Helper()
	want, wantErr := json.Marshal(out)
	got, err := appendChatCompletion(nil, out)
	if (err != nil) != (wantErr != nil) || err == nil && string(got) != string(want) {
		t.Fatalf("appendChatCompletion: %s, %v; json.Marshal: %s, %v", got, err, want, wantErr)
	}
}

// answerWith is an assembled answer carrying s in every string field.
func answerWith(s string) *chatCompletion {
	idx := 0
	return &chatCompletion{ID: s, Object: objectChat, Created: "1700000000", Model: s,
		Choices: []chatChoice{{Index: 0, Message: chatMessage{Role: "assistant", Content: &s, ReasoningContent: &s, Refusal: &s,
			ToolCalls: []toolCall{{Index: &idx, ID: s, Type: "function", Function: toolFunction{Name: s, Arguments: s}}, {Function: toolFunction{Arguments: s}}}},
			FinishReason: &s}},
		SystemFingerprint: &s, ServiceTier: &s}
}

var encodingStrings = []string{"", "plain", "quote \" backslash \\ slash /", "line\nreturn\rtab\t", "<b>&amp;</b>",
	"中文 émoji 😀", "\u2028\u2029", "\x00\x01\x1f\x7f", "\b\f", "bad \xff utf-8", "\xe2\x80", "\ufffd"}

// The hand-written encoding of an assembled answer is json.Marshal's, byte
// for byte: texts with every kind of escape, tool calls, null and absent
// fields, usage with and without space, numbers.
func TestAppendChatCompletionIsMarshal(t *testing.T) {
	for _, s := range encodingStrings {
		checkEncoding(t, answerWith(s))
	}
	stop := "stop"
	for _, out := range []*chatCompletion{
		{},
		{Object: objectChat, Choices: []chatChoice{}},
		{Created: "-1.5e3", Choices: []chatChoice{{Index: 3, FinishReason: &stop}, {Index: 4}}},
		{Created: "01"},
		{Created: "12 "},
		{Usage: json.RawMessage(`{"prompt_tokens":1,"completion_tokens":2}`)},
		{Usage: json.RawMessage(`{ "prompt_tokens" : 1 , "x":"a b<" }`)},
		{Usage: json.RawMessage(`{"x":"中"}`)},
		{Usage: json.RawMessage(`{"x":`)},
		{Choices: []chatChoice{{Logprobs: &chatLogprobs{Content: []json.RawMessage{json.RawMessage(`{"token":"<"}`)}}}}},
	} {
		checkEncoding(t, out)
	}
}

func FuzzAppendChatCompletion(f *testing.F) {
	for _, s := range encodingStrings {
		f.Add(s, "1700000000", `{"prompt_tokens":1}`)
	}
	f.Fuzz(func(t *testing.T, s, created, usage string) {
		out := answerWith(s)
		out.Created = json.Number(created)
		out.Usage = json.RawMessage(usage)
		checkEncoding(t, out)
	})
}
