package responses

import (
	"encoding/json"
	"testing"
)

func TestHistory(t *testing.T) {
	first := []byte(`{"model":"m","store":true,"instructions":"x","input":"What is 2+2?"}`)
	in, err := InputItems(first)
	if err != nil || string(in) != `[{"type":"message","role":"user","content":"What is 2+2?"}]` {
		t.Fatalf("InputItems %s %v", in, err)
	}
	resp, err := FromChat([]byte(`{"id":"c","choices":[{"message":{"content":"4","reasoning_content":"add"},"finish_reason":"stop"}]}`), RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := OutputItems(resp)
	if err != nil {
		t.Fatal(err)
	}
	history := append(append(in[:len(in)-1:len(in)-1], ','), out[1:]...)
	if !json.Valid(history) {
		t.Fatalf("history %s", history)
	}

	next := []byte(`{"model":"m","previous_response_id":"resp_c","input":[{"role":"user","content":"And 3+3?"}]}`)
	body, err := WithHistory(next, history)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := chatOf(t, string(body))
	want := `[{"content":"What is 2+2?","role":"user"},{"content":"4","reasoning_content":"add","role":"assistant"},{"content":"And 3+3?","role":"user"}]`
	if got := jsonOf(t, m["messages"]); got != want {
		t.Errorf("messages:\n got %s\nwant %s", got, want)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil || v["previous_response_id"] != nil {
		t.Errorf("body %s", body)
	}

	// Empty history, string input.
	body, err = WithHistory([]byte(`{"model":"m","input":"hi"}`), []byte(`[]`))
	if err != nil || string(body) != `{"model":"m","input":[{"type":"message","role":"user","content":"hi"}]}` {
		t.Errorf("WithHistory %s %v", body, err)
	}
	if _, err := WithHistory(next, []byte(`{}`)); err == nil {
		t.Error("non-array history accepted")
	}
}
