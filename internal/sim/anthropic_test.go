package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// messageJSON is a Message as Anthropic documents it; decodeStrict fails
// on any other field.
type messageJSON struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Role         string `json:"role"`
	Model        string `json:"model"`
	StopReason   string `json:"stop_reason"`
	StopSequence any    `json:"stop_sequence"`
	Content      []struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		Thinking  string          `json:"thinking"`
		Signature string          `json:"signature"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
	} `json:"content"`
	Usage anthropicUsageJSON `json:"usage"`
}

type anthropicUsageJSON struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

func doAnthropic(t *testing.T, s *Server, header, key, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/anthropic/v1/messages", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	if header != "" {
		req.Header.Set(header, key)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

const anthropicHello = `{"model":"deepseek-flash","max_tokens":64,"system":"be brief","messages":[{"role":"user","content":[{"type":"text","text":"hello"}]}]}`

// The DeepSeek double serves /anthropic/v1/messages as DeepSeek documents
// it: x-api-key (or Bearer) auth, thinking on by default, Anthropic's
// Message and usage shape with the cache hits apart, and Claude names
// mapped to DeepSeek models.
func TestDeepSeekAnthropicMessage(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{APIKey: "sk-test"})
	rec := doAnthropic(t, s, "X-Api-Key", "sk-test", anthropicHello)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var m messageJSON
	decodeStrict(t, rec.Body.Bytes(), &m)
	if m.Type != "message" || m.Role != "assistant" || !strings.HasPrefix(m.ID, "msg_") || m.Model != "deepseek-flash" ||
		m.StopReason != "max_tokens" || len(m.Content) != 2 || m.Content[0].Type != "thinking" || m.Content[0].Signature == "" ||
		m.Content[1].Type != "text" || m.Content[1].Text == "" || m.Usage.OutputTokens != 64 || m.Usage.InputTokens == 0 {
		t.Errorf("message %+v", m)
	}
	// The same conversation again hits the context cache.
	rec = doAnthropic(t, s, "Authorization", "Bearer sk-test", anthropicHello)
	var again messageJSON
	decodeStrict(t, rec.Body.Bytes(), &again)
	if again.Usage.CacheReadInputTokens == 0 || again.Usage.InputTokens+again.Usage.CacheReadInputTokens != m.Usage.InputTokens {
		t.Errorf("cache: first %+v, again %+v", m.Usage, again.Usage)
	}
	rec = doAnthropic(t, s, "X-Api-Key", "sk-test", strings.Replace(anthropicHello, `"deepseek-flash"`, `"claude-sonnet-4-5"`, 1))
	decodeStrict(t, rec.Body.Bytes(), &m)
	if rec.Code != 200 || m.Model != "claude-sonnet-4-5" {
		t.Errorf("claude name: %d %s", rec.Code, rec.Body)
	}
}

// Errors come in Anthropic's shape, the shared steps' included.
func TestDeepSeekAnthropicErrors(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{APIKey: "sk-test"})
	for _, c := range []struct {
		name, header, key, body, typ string
		status                       int
	}{
		{"no key", "", "", anthropicHello, "authentication_error", 401},
		{"wrong key", "X-Api-Key", "sk-nope", anthropicHello, "authentication_error", 401},
		{"unknown model", "X-Api-Key", "sk-test", strings.Replace(anthropicHello, "deepseek-flash", "gpt-4o", 1), "invalid_request_error", 400},
		{"no max_tokens", "X-Api-Key", "sk-test", `{"model":"deepseek-flash","messages":[{"role":"user","content":"hi"}]}`, "invalid_request_error", 400},
		{"image", "X-Api-Key", "sk-test", `{"model":"deepseek-flash","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]}`, "invalid_request_error", 400},
		{"bad JSON", "X-Api-Key", "sk-test", `{"model":`, "invalid_request_error", 400},
		{"max_tokens too large", "X-Api-Key", "sk-test", `{"model":"deepseek-flash","max_tokens":99999999,"messages":[{"role":"user","content":"hi"}]}`, "invalid_request_error", 400},
	} {
		rec := doAnthropic(t, s, c.header, c.key, c.body)
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		decodeStrict(t, rec.Body.Bytes(), &e)
		if rec.Code != c.status || e.Type != "error" || e.Error.Type != c.typ || e.Error.Message == "" {
			t.Errorf("%s: %d %s", c.name, rec.Code, rec.Body)
		}
	}
	s.SetFaults(Faults{ErrorRate: 1, ErrorStatus: 503})
	rec := doAnthropic(t, s, "X-Api-Key", "sk-test", anthropicHello)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `{"type":"error","error":{"type":"overloaded_error","message":"Server Overloaded"}}`) {
		t.Errorf("injected: %d %s", rec.Code, rec.Body)
	}
}

// A stream is Anthropic's event sequence; a tool mentioned by the user is
// called with a tool_use block, and the tool's result gets a text answer.
func TestDeepSeekAnthropicStreamTools(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{APIKey: "sk-test"})
	tools := `"tools":[{"name":"get_weather","description":"w","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]`
	body := `{"model":"deepseek-v4-pro","max_tokens":40,"stream":true,` + tools + `,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"weather in Paris?"}]}`
	rec := doAnthropic(t, s, "X-Api-Key", "sk-test", body)
	var names []string
	var partial strings.Builder
	var final anthropicUsageJSON
	for _, ev := range strings.Split(strings.TrimSpace(rec.Body.String()), "\n\n") {
		name, data, ok := strings.Cut(ev, "\ndata: ")
		if !ok || !strings.HasPrefix(name, "event: ") {
			t.Fatalf("event %q", ev)
		}
		name = strings.TrimPrefix(name, "event: ")
		var d struct {
			Type  string `json:"type"`
			Delta struct {
				PartialJSON string `json:"partial_json"`
				StopReason  string `json:"stop_reason"`
			} `json:"delta"`
			Usage *anthropicUsageJSON `json:"usage"`
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil || d.Type != name {
			t.Fatalf("event %s: %s", name, data)
		}
		if len(names) == 0 || names[len(names)-1] != name {
			names = append(names, name)
		}
		partial.WriteString(d.Delta.PartialJSON)
		if name == "message_delta" {
			final = *d.Usage
			if d.Delta.StopReason != "tool_use" {
				t.Errorf("stop_reason %q", d.Delta.StopReason)
			}
		}
	}
	want := "message_start ping content_block_start content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("events %s\nwant   %s", got, want)
	}
	if !json.Valid([]byte(partial.String())) || final.OutputTokens == 0 {
		t.Errorf("input %q usage %+v", partial.String(), final)
	}
	result := `{"model":"deepseek-v4-pro","max_tokens":40,` + tools + `,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"weather in Paris?"},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"}]}]}`
	rec = doAnthropic(t, s, "X-Api-Key", "sk-test", result)
	var m messageJSON
	decodeStrict(t, rec.Body.Bytes(), &m)
	if len(m.Content) != 1 || m.Content[0].Type != "text" {
		t.Errorf("after the tool result: %s", rec.Body)
	}
}
