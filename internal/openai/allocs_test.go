//go:build !race

package openai

import "testing"

// Allocation counts of the per-request parse and usage scan (bench/cpu,
// issue 22). The race detector allocates, so these build without it;
// scripts/test.sh runs them in its "-run Allocs" step.

func TestParseChatAllocs(t *testing.T) {
	body := []byte(`{"model":"deepseek-chat","messages":[{"role":"system","content":"Be brief."},` +
		`{"role":"user","content":"Say hello."}],"max_tokens":16,"temperature":0,"stream":false}`)
	got := testing.AllocsPerRun(100, func() {
		if _, err := Parse(EndpointChat, body); err != nil {
			t.Fatal(err)
		}
	})
	// The Request and the scanner's few buffers; the keys every request
	// has are not copied into strings (13 allocations when they were).
	if got > 4 {
		t.Fatalf("Parse: %.0f allocations, want at most 4", got)
	}
}

func TestUsageOfAllocs(t *testing.T) {
	body := []byte(`{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},` +
		`"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":16,"total_tokens":28}}`)
	got := testing.AllocsPerRun(100, func() {
		if _, ok := UsageOf(body); !ok {
			t.Fatal("no usage")
		}
	})
	// 4 when the usage keys were copied into strings.
	if got > 1 {
		t.Fatalf("UsageOf: %.0f allocations, want at most 1", got)
	}
}
