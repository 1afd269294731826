package cache

import (
	"fmt"
	"strings"
	"testing"
)

const baseChat = `{"model":"deepseek-chat","messages":[{"role":"system","content":"You are terse."},` +
	`{"role":"user","content":"Hi é"}],"temperature":0,"max_tokens":256}`

func mustKey(t *testing.T, endpoint, body string, parts KeyParts) Key {
	t.Helper()
	k, err := DeriveKey(endpoint, []byte(body), parts)
	if err != nil {
		t.Fatalf("DeriveKey(%s): %v", body, err)
	}
	return k
}

var defaultParts = KeyParts{PublicModel: "deepseek-chat", UpstreamModel: "deepseek-v4-flash", ModelVersion: "2026-09", Scope: "client-1"}

// TestKeySame lists spellings of baseChat that must give its key.
func TestKeySame(t *testing.T) {
	t.Parallel()
	want := mustKey(t, "chat.completions", baseChat, defaultParts)
	tests := []struct{ name, body string }{
		{"identical", baseChat},
		{"key order", `{"max_tokens":256,"temperature":0,"messages":[{"content":"You are terse.","role":"system"},` +
			`{"content":"Hi é","role":"user"}],"model":"deepseek-chat"}`},
		{"whitespace", "{\n  \"model\": \"deepseek-chat\",\n  \"messages\": [ {\"role\": \"system\", \"content\": \"You are terse.\"},\n" +
			" {\"role\":\"user\",\"content\":\"Hi é\"} ],\t\"temperature\": 0, \"max_tokens\": 256 }"},
		{"number 0.0", strings.Replace(baseChat, `"temperature":0`, `"temperature":0.0`, 1)},
		{"number -0", strings.Replace(baseChat, `"temperature":0`, `"temperature":-0`, 1)},
		{"number 0e5", strings.Replace(baseChat, `"temperature":0`, `"temperature":0e5`, 1)},
		{"number 256.0", strings.Replace(baseChat, `256`, `256.0`, 1)},
		{"number 2.56e2", strings.Replace(baseChat, `256`, `2.56e2`, 1)},
		{"number 2560E-1", strings.Replace(baseChat, `256`, `2560E-1`, 1)},
		{"number 25600e-2", strings.Replace(baseChat, `256`, `25600e-2`, 1)},
		{"unicode escape", strings.Replace(baseChat, `Hi é`, `Hi \u00e9`, 1)},
		{"unicode escape upper", strings.Replace(baseChat, `Hi é`, `Hi \u00E9`, 1)},
		{"escaped solidus", strings.Replace(baseChat, `terse.`, `terse\u002e`, 1)},
		{"stream true", strings.Replace(baseChat, `{`, `{"stream":true,"stream_options":{"include_usage":true},`, 1)},
		{"stream false", strings.Replace(baseChat, `{`, `{"stream":false,`, 1)},
		{"user and metadata", strings.Replace(baseChat, `{`, `{"user":"u-1","metadata":{"a":"b"},"store":true,"service_tier":"auto",`, 1)},
		{"top-level null", strings.Replace(baseChat, `{`, `{"stop":null,"tools":null,"seed":null,`, 1)},
		{"duplicate key last wins", strings.Replace(baseChat, `{`, `{"temperature":1,`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := mustKey(t, "chat.completions", tt.body, defaultParts); got != want {
				t.Errorf("key differs from base:\n%s", tt.body)
			}
		})
	}
}

// TestKeyDiffers lists changes that must give a different key.
func TestKeyDiffers(t *testing.T) {
	t.Parallel()
	base := mustKey(t, "chat.completions", baseChat, defaultParts)
	add := func(field string) string { return strings.Replace(baseChat, `{`, `{`+field+`,`, 1) }
	tests := []struct {
		name     string
		endpoint string
		body     string
		parts    KeyParts
	}{
		{"endpoint", "completions", baseChat, defaultParts},
		{"public model", "", baseChat, KeyParts{PublicModel: "deepseek-reasoner", UpstreamModel: "deepseek-v4-flash", ModelVersion: "2026-09", Scope: "client-1"}},
		{"upstream model", "", baseChat, KeyParts{PublicModel: "deepseek-chat", UpstreamModel: "deepseek-v4-pro", ModelVersion: "2026-09", Scope: "client-1"}},
		{"model version", "", baseChat, KeyParts{PublicModel: "deepseek-chat", UpstreamModel: "deepseek-v4-flash", ModelVersion: "2026-10", Scope: "client-1"}},
		{"scope", "", baseChat, KeyParts{PublicModel: "deepseek-chat", UpstreamModel: "deepseek-v4-flash", ModelVersion: "2026-09", Scope: "client-2"}},
		{"parts do not run together", "", baseChat, KeyParts{PublicModel: "deepseek-chatdeepseek-v4-flash", ModelVersion: "2026-09", Scope: "client-1"}},
		{"body model", "", strings.Replace(baseChat, `"deepseek-chat"`, `"deepseek-v4-pro"`, 1), defaultParts},
		{"message content", "", strings.Replace(baseChat, `Hi é`, `Hi e`, 1), defaultParts},
		{"message role", "", strings.Replace(baseChat, `"system"`, `"developer"`, 1), defaultParts},
		{"message order", "", `{"model":"deepseek-chat","messages":[{"role":"user","content":"Hi é"},{"role":"system","content":"You are terse."}],"temperature":0,"max_tokens":256}`, defaultParts},
		{"message name", "", strings.Replace(baseChat, `"role":"user"`, `"role":"user","name":"bob"`, 1), defaultParts},
		{"reasoning content", "", strings.Replace(baseChat, `"role":"system"`, `"role":"system","reasoning_content":"r"`, 1), defaultParts},
		{"tool calls", "", strings.Replace(baseChat, `"role":"system"`, `"role":"system","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]`, 1), defaultParts},
		{"temperature", "", strings.Replace(baseChat, `"temperature":0`, `"temperature":0.7`, 1), defaultParts},
		{"top_p", "", add(`"top_p":0.9`), defaultParts},
		{"max_tokens", "", strings.Replace(baseChat, `256`, `257`, 1), defaultParts},
		{"max_completion_tokens", "", add(`"max_completion_tokens":100`), defaultParts},
		{"stop", "", add(`"stop":["\n"]`), defaultParts},
		{"seed", "", add(`"seed":42`), defaultParts},
		{"big seed exact", "", add(`"seed":12345678901234567891`), defaultParts},
		{"frequency_penalty", "", add(`"frequency_penalty":0.5`), defaultParts},
		{"presence_penalty", "", add(`"presence_penalty":0.5`), defaultParts},
		{"tools", "", add(`"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]`), defaultParts},
		{"tool_choice", "", add(`"tool_choice":"required"`), defaultParts},
		{"response_format", "", add(`"response_format":{"type":"json_object"}`), defaultParts},
		{"logprobs", "", add(`"logprobs":true`), defaultParts},
		{"top_logprobs", "", add(`"top_logprobs":3`), defaultParts},
		{"n", "", add(`"n":2`), defaultParts},
		{"thinking", "", add(`"thinking":{"type":"enabled"}`), defaultParts},
		{"reasoning_effort", "", add(`"reasoning_effort":"max"`), defaultParts},
		{"suffix", "", add(`"suffix":"return x"`), defaultParts},
		{"prompt", "", add(`"prompt":"def f():"`), defaultParts},
		{"input", "", add(`"input":"hello"`), defaultParts},
		{"dimensions", "", add(`"dimensions":256`), defaultParts},
		{"encoding_format", "", add(`"encoding_format":"base64"`), defaultParts},
		{"nested null kept", "", strings.Replace(baseChat, `"role":"user"`, `"role":"user","name":null`, 1), defaultParts},
		{"nested user field kept", "", add(`"response_format":{"type":"json_schema","user":"x"}`), defaultParts},
	}
	seen := map[Key]string{base: "base"}
	for _, tt := range tests {
		endpoint := tt.endpoint
		if endpoint == "" {
			endpoint = "chat.completions"
		}
		got := mustKey(t, endpoint, tt.body, tt.parts)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: same key as %s", tt.name, prev)
		}
		seen[got] = tt.name
	}
}

// TestKeyStable pins one key so that a change of the encoding, of Go's
// encoding/json or of the hash input shows up: stored entries of other
// replicas and of the disk and S3 tiers depend on it.
func TestKeyStable(t *testing.T) {
	t.Parallel()
	got := mustKey(t, "chat.completions", baseChat, defaultParts).String()
	const want = "358705c04552d1e5f810071a69221753833ee7fea27101e6e677627aa29d4b49"
	if got != want {
		t.Errorf("key = %s, want %s (bump keyDomain if the change is intended)", got, want)
	}
}

func TestKeyErrors(t *testing.T) {
	t.Parallel()
	for _, body := range []string{``, `[]`, `"x"`, `{"a":1`, `{"a":1} {}`, `{"a":01}`} {
		if _, err := DeriveKey("chat.completions", []byte(body), KeyParts{}); err == nil {
			t.Errorf("DeriveKey(%q) succeeded, want error", body)
		}
	}
}

func TestNormalizeNumber(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"0", "0"}, {"-0", "0"}, {"0.000", "0"}, {"0e10", "0"},
		{"1", "1"}, {"1.0", "1"}, {"1e0", "1"}, {"10e-1", "1"}, {"0.1e1", "1"}, {"1E+0", "1"},
		{"10", "10"}, {"1e1", "10"}, {"1000000", "1000000"}, {"1e7", "1e7"}, {"10000000", "1e7"},
		{"0.25", "25e-2"}, {"2.5e-1", "25e-2"}, {"-1.50", "-15e-1"},
		{"12345678901234567891", "12345678901234567891"},
	}
	for _, tt := range tests {
		got, err := normalizeNumber(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("normalizeNumber(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "chat.completions", baseChat, defaultParts)
	got, err := ParseKey(k.String())
	if err != nil || got != k {
		t.Fatalf("ParseKey(String()) = %v, %v", got, err)
	}
	if _, err := ParseKey("abc"); err == nil {
		t.Error("ParseKey(abc) succeeded")
	}
}

// The canonicalizer's reused storage carries nothing from one key to the
// next: a key derived after a deep, a wide and a huge body is the key
// derived first.
func TestKeyAfterOtherBodies(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5}`)
	first, err := DeriveKey("chat.completions", body, KeyParts{})
	if err != nil {
		t.Fatal(err)
	}
	wide := `{"model":"m","messages":[{"role":"user","content":"x"}]`
	for i := range 300 {
		wide += fmt.Sprintf(`,"k%d":%d.5e3`, i, i)
	}
	others := []string{
		`{"model":"m","messages":[{"role":"user","content":{"a":{"b":{"c":[1,2,{"d":1e2}]}}}}]}`,
		wide + "}",
		`{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("y", 100<<10) + `"}]}`,
	}
	for _, o := range others {
		if _, err := DeriveKey("chat.completions", []byte(o), KeyParts{}); err != nil {
			t.Fatal(err)
		}
		if k, err := DeriveKey("chat.completions", body, KeyParts{}); err != nil || k != first {
			t.Fatalf("after a body of %d bytes: key %v (%v), first %v", len(o), k, err, first)
		}
	}
}
