package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func newDeepSeek(t *testing.T, o Options) *Server {
	t.Helper()
	o.Personality = PersonalityDeepSeek
	return newTestServer(t, o)
}

// wantDeepSeekError checks status and DeepSeek's error shape: the message,
// the type, param null and code "invalid_request_error".
func wantDeepSeekError(t *testing.T, rec *httptest.ResponseRecorder, status int, typ, msg string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d: %s", rec.Code, status, rec.Body)
	}
	want := `{"error":{"message":` + string(mustJSON(t, msg)) + `,"type":"` + typ + `","param":null,"code":"invalid_request_error"}}` + "\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func userChat(model, extra string) string {
	return `{"model":"` + model + `",` + extra + `"messages":[{"role":"user","content":"hello"}]}`
}

func TestDeepSeekModelNames(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{})
	for _, retired := range []string{"deepseek-chat", "deepseek-reasoner", "deepseek-coder", "gpt-4o"} {
		rec := do(t, s, http.MethodPost, "/chat/completions", userChat(retired, ""))
		wantDeepSeekError(t, rec, 400, "invalid_request_error",
			"The supported API model names are deepseek-v4-pro or deepseek-v4-flash, but you passed "+retired+".")
		rec = do(t, s, http.MethodPost, "/beta/completions", `{"model":"`+retired+`","prompt":"def f():","suffix":"return 1"}`)
		wantDeepSeekError(t, rec, 400, "invalid_request_error",
			"The supported API model names are deepseek-v4-pro or deepseek-v4-flash, but you passed "+retired+".")
	}
	for _, current := range DeepSeekModels() {
		if rec := do(t, s, http.MethodPost, "/chat/completions", userChat(current, "")); rec.Code != 200 {
			t.Errorf("%s: %d %s", current, rec.Code, rec.Body)
		}
	}
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(do(t, s, http.MethodGet, "/models", "").Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if diff := cmp.Diff(DeepSeekModels(), ids); diff != "" || list.Object != "list" {
		t.Errorf("GET /models (-want +got):\n%s", diff)
	}
}

func TestDeepSeekAuthentication(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{APIKey: "sk-right-key-1234"})
	tests := []struct {
		name, header string
		status       int
		msg          string
	}{
		{"missing", "", 401, "Authentication Fails (auth header format should be Bearer sk-...)"},
		{"not bearer", "Basic abc", 401, "Authentication Fails (auth header format should be Bearer sk-...)"},
		{"wrong key", "Bearer sk-wrong-key-9876", 401, "Authentication Fails, Your api key: ****9876 is invalid"},
		{"short wrong key", "Bearer ab", 401, "Authentication Fails, Your api key: ****ab is invalid"},
		{"right key", "Bearer sk-right-key-1234", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, req := range []*http.Request{
				httptest.NewRequest(http.MethodPost, "/chat/completions", strings.NewReader(userChat("deepseek-v4-flash", ""))),
				httptest.NewRequest(http.MethodGet, "/user/balance", nil),
				httptest.NewRequest(http.MethodGet, "/models", nil),
			} {
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				if tt.status == 200 {
					if rec.Code != 200 {
						t.Errorf("%s: %d %s", req.URL.Path, rec.Code, rec.Body)
					}
					continue
				}
				wantDeepSeekError(t, rec, tt.status, "authentication_error", tt.msg)
			}
		})
	}
	if rec := do(t, s, http.MethodGet, "/health", ""); rec.Code != 200 {
		t.Errorf("/health needs no key, got %d", rec.Code)
	}
}

func TestDeepSeekThinking(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{})
	tests := []struct {
		name, extra        string
		reasoning, content int // with max_tokens 8; reasoning -1: no reasoning_content field
	}{
		{"default on", ``, 4, 4},
		{"enabled", `"thinking":{"type":"enabled"},`, 4, 4},
		{"disabled", `"thinking":{"type":"disabled"},`, -1, 8},
		{"effort high", `"reasoning_effort":"high",`, 4, 4},
		{"low maps to high", `"reasoning_effort":"low",`, 4, 4},
		{"medium maps to high", `"reasoning_effort":"medium",`, 4, 4},
		{"max", `"reasoning_effort":"max",`, 6, 2},
		{"xhigh maps to max", `"reasoning_effort":"xhigh",`, 6, 2},
		{"effort ignored without thinking", `"thinking":{"type":"disabled"},"reasoning_effort":"max",`, -1, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := chatContent(t, s, userChat("deepseek-v4-pro", tt.extra+`"max_tokens":8,`))
			msg := got.Choices[0].Message
			if tt.reasoning < 0 {
				if msg.ReasoningContent != nil {
					t.Errorf("non-thinking answer has reasoning_content %q", *msg.ReasoningContent)
				}
			} else if msg.ReasoningContent == nil || words(*msg.ReasoningContent) != tt.reasoning {
				t.Errorf("reasoning_content = %v, want %d words", msg.ReasoningContent, tt.reasoning)
			}
			if words(*msg.Content) != tt.content {
				t.Errorf("content = %q, want %d words", *msg.Content, tt.content)
			}
			wantReasoning := max(tt.reasoning, 0)
			if got.Usage.CompletionTokensDetails.ReasoningTokens != wantReasoning || got.Usage.CompletionTokens != 8 {
				t.Errorf("usage = %+v", got.Usage)
			}
		})
	}
	for _, bad := range []string{`"thinking":{"type":"auto"},`, `"reasoning_effort":"minimal",`} {
		rec := do(t, s, http.MethodPost, "/chat/completions", userChat("deepseek-v4-flash", bad))
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"code":"invalid_request_error"`) {
			t.Errorf("%s: %d %s", bad, rec.Code, rec.Body)
		}
	}
}

func TestDeepSeekReasoningContentPassBack(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{})
	conversation := func(assistant string) string {
		return `[{"role":"user","content":"weather in Paris?"},` + assistant + `,
			{"role":"tool","tool_call_id":"call_1","content":"sunny"}]`
	}
	const calls = `"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]`
	tests := []struct {
		name, thinking, assistant string
		ok                        bool
	}{
		{"missing", ``, `{"role":"assistant","content":"",` + calls + `}`, false},
		{"null", ``, `{"role":"assistant","content":null,"reasoning_content":null,` + calls + `}`, false},
		{"passed back", ``, `{"role":"assistant","content":"","reasoning_content":"I should call it",` + calls + `}`, true},
		{"empty passed back", ``, `{"role":"assistant","content":"","reasoning_content":"",` + calls + `}`, true},
		{"non-thinking", `"thinking":{"type":"disabled"},`, `{"role":"assistant","content":"",` + calls + `}`, true},
		{"no tool call", ``, `{"role":"assistant","content":"it is sunny"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := `{"model":"deepseek-v4-flash",` + tt.thinking + `"messages":` + conversation(tt.assistant) + `}`
			rec := do(t, s, http.MethodPost, "/chat/completions", body)
			if tt.ok {
				if rec.Code != 200 {
					t.Errorf("status %d: %s", rec.Code, rec.Body)
				}
				return
			}
			wantDeepSeekError(t, rec, 400, "invalid_request_error",
				"The `reasoning_content` in the thinking mode must be passed back to the API.")
		})
	}
}

func TestDeepSeekFIM(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{})
	const fim = `"model":"deepseek-v4-pro","prompt":"def fib(a):","suffix":"    return fib(a-1) + fib(a-2)","max_tokens":6`
	rec := do(t, s, http.MethodPost, "/beta/completions", `{`+fim+`}`)
	var got textCompletionJSON
	decodeStrict(t, rec.Body.Bytes(), &got)
	if rec.Code != 200 || words(got.Choices[0].Text) != 6 || got.Usage.CompletionTokensDetails.ReasoningTokens != 0 {
		t.Errorf("FIM = %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, s, http.MethodPost, "/beta/completions", `{`+fim+`,"thinking":{"type":"disabled"}}`); rec.Code != 200 {
		t.Errorf("FIM with thinking disabled = %d %s", rec.Code, rec.Body)
	}
	rec = do(t, s, http.MethodPost, "/beta/completions", `{`+fim+`,"thinking":{"type":"enabled"}}`)
	wantDeepSeekError(t, rec, 400, "invalid_request_error", msgFIMThinking)

	// DeepSeek serves completions only under /beta, and no embeddings.
	for _, path := range []string{"/completions", "/v1/completions", "/embeddings", "/v1/embeddings"} {
		if rec := do(t, s, http.MethodPost, path, `{`+fim+`}`); rec.Code != 404 {
			t.Errorf("%s = %d, want 404", path, rec.Code)
		}
	}
}

func TestDeepSeekResponseFormat(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{})
	body := func(format, prompt string) string {
		return `{"model":"deepseek-v4-flash","response_format":` + format + `,"messages":[
			{"role":"system","content":"` + prompt + `"},{"role":"user","content":"Which is the longest river?"}]}`
	}
	got := chatContent(t, s, body(`{"type":"json_object"}`, "Answer in JSON."))
	var v map[string]any
	if err := json.Unmarshal([]byte(*got.Choices[0].Message.Content), &v); err != nil || got.Choices[0].FinishReason != "stop" {
		t.Errorf("json_object content %q: %v", *got.Choices[0].Message.Content, err)
	}
	chatContent(t, s, body(`{"type":"text"}`, "plain"))

	rec := do(t, s, http.MethodPost, "/chat/completions", body(`{"type":"json_object"}`, "Answer briefly."))
	wantDeepSeekError(t, rec, 400, "invalid_request_error",
		"Prompt must contain the word 'json' in some form to use 'response_format' of type 'json_object'")
	rec = do(t, s, http.MethodPost, "/chat/completions",
		body(`{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object"}}}`, "JSON please"))
	wantDeepSeekError(t, rec, 400, "invalid_request_error", "This response_format type is unavailable now")
}

func TestDeepSeekStopAndN(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{})
	full := chatContent(t, s, userChat("deepseek-v4-flash", `"thinking":{"type":"disabled"},`))
	text := *full.Choices[0].Message.Content
	fields := strings.Fields(text)
	stop := fields[3] + " " + fields[4]
	got := chatContent(t, s, userChat("deepseek-v4-flash", `"thinking":{"type":"disabled"},"stop":["zzz",`+string(mustJSON(t, stop))+`],`))
	want := text[:strings.Index(text, stop)]
	if c := *got.Choices[0].Message.Content; c != want || got.Choices[0].FinishReason != "stop" ||
		got.Usage.CompletionTokens != words(want) {
		t.Errorf("stopped content = %q (%s, %d tokens), want %q", c, got.Choices[0].FinishReason, got.Usage.CompletionTokens, want)
	}
	chatContent(t, s, userChat("deepseek-v4-flash", `"n":1,`))
	rec := do(t, s, http.MethodPost, "/chat/completions", userChat("deepseek-v4-flash", `"n":2,`))
	wantDeepSeekError(t, rec, 400, "invalid_request_error", msgN)
}

func TestDeepSeekPrefixCache(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{})
	const sys = `{"role":"system","content":"you are a helpful assistant"}` // 5+4 tokens
	first := chatContent(t, s, `{"model":"deepseek-v4-flash","messages":[`+sys+`,{"role":"user","content":"hello"}]}`)
	if u := first.Usage; u.PromptTokens != 14 || u.PromptCacheHitTokens != 0 || u.PromptCacheMissTokens != 14 {
		t.Errorf("first request usage = %+v", u)
	}
	again := chatContent(t, s, `{"model":"deepseek-v4-flash","messages":[`+sys+`,{"role":"user","content":"hello"}]}`)
	if u := again.Usage; u.PromptCacheHitTokens != 14 || u.PromptCacheMissTokens != 0 || u.PromptTokensDetails.CachedTokens != 14 {
		t.Errorf("repeated request usage = %+v", u)
	}
	other := chatContent(t, s, `{"model":"deepseek-v4-flash","messages":[`+sys+`,{"role":"user","content":"bye now"}]}`)
	if u := other.Usage; u.PromptTokens != 15 || u.PromptCacheHitTokens != 9 || u.PromptCacheMissTokens != 6 {
		t.Errorf("shared system prompt usage = %+v", u)
	}
	pro := chatContent(t, s, `{"model":"deepseek-v4-pro","messages":[`+sys+`,{"role":"user","content":"hello"}]}`)
	if u := pro.Usage; u.PromptCacheHitTokens != 0 {
		t.Errorf("another model shares the cache: %+v", u)
	}
}

func TestDeepSeekBalance(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{})
	rec := do(t, s, http.MethodGet, "/user/balance", "")
	want := `{"is_available":true,"balance_infos":[{"currency":"CNY","total_balance":"100.00","granted_balance":"0.00","topped_up_balance":"100.00"}]}` + "\n"
	if rec.Code != 200 || rec.Body.String() != want || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("balance = %d %s", rec.Code, rec.Body)
	}
	s.SetBalance(Balance{Currency: "CNY", Granted: 1.5, ToppedUp: 2.25}, Balance{Currency: "USD", ToppedUp: 0.1})
	want = `{"is_available":true,"balance_infos":[{"currency":"CNY","total_balance":"3.75","granted_balance":"1.50","topped_up_balance":"2.25"},` +
		`{"currency":"USD","total_balance":"0.10","granted_balance":"0.00","topped_up_balance":"0.10"}]}` + "\n"
	if got := do(t, s, http.MethodGet, "/user/balance", "").Body.String(); got != want {
		t.Errorf("balance = %s\nwant      %s", got, want)
	}
	s.SetBalance(Balance{Currency: "CNY"})
	if got := do(t, s, http.MethodGet, "/user/balance", "").Body.String(); !strings.HasPrefix(got, `{"is_available":false,`) {
		t.Errorf("empty balance = %s", got)
	}
	rec = do(t, s, http.MethodPost, "/chat/completions", userChat("deepseek-v4-flash", ""))
	if rec.Code != http.StatusPaymentRequired || !strings.Contains(rec.Body.String(), `"message":"Insufficient Balance"`) {
		t.Errorf("chat with no balance = %d %s", rec.Code, rec.Body)
	}
	if got := newTestServer(t, Options{}); do(t, got, http.MethodGet, "/user/balance", "").Code != 404 {
		t.Error("the plain simulator serves /user/balance")
	}
	o := Options{Balance: []Balance{{Currency: "USD", ToppedUp: 5}}}
	if got := do(t, newDeepSeek(t, o), http.MethodGet, "/user/balance", "").Body.String(); !strings.Contains(got, `"currency":"USD","total_balance":"5.00"`) {
		t.Errorf("Options.Balance ignored: %s", got)
	}
}

func TestDeepSeekKeepAliveDefault(t *testing.T) {
	t.Parallel()
	if got := newDeepSeek(t, Options{}).opts.KeepAliveEvery; got != DeepSeekKeepAlive {
		t.Errorf("KeepAliveEvery = %v, want %v", got, DeepSeekKeepAlive)
	}
	if got := newDeepSeek(t, Options{KeepAliveEvery: -1}).opts.KeepAliveEvery; got != 0 {
		t.Errorf("negative KeepAliveEvery = %v, want off", got)
	}
	if got := newTestServer(t, Options{}).opts.KeepAliveEvery; got != 0 {
		t.Errorf("plain KeepAliveEvery = %v, want off", got)
	}
}

func TestParsePersonality(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Personality{"": PersonalityPlain, "plain": PersonalityPlain, "DeepSeek": PersonalityDeepSeek} {
		if got, err := ParsePersonality(in); err != nil || got != want {
			t.Errorf("ParsePersonality(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParsePersonality("openai"); err == nil {
		t.Error("unknown personality accepted")
	}
}

func TestDeepSeekStreamedToolCall(t *testing.T) {
	t.Parallel()
	s := newDeepSeek(t, Options{})
	body := `{"model":"deepseek-v4-flash","stream":true,"stream_options":{"include_usage":true},"max_tokens":6,
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object",
			"properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}}}],
		"messages":[{"role":"user","content":"weather in Lima?"}]}`
	chunks := chatChunks(t, parseSSE(t, do(t, s, http.MethodPost, "/chat/completions", body).Body.String()))
	_, reasoning := streamText(chunks)
	if words(reasoning) != 3 {
		t.Errorf("reasoning before the call = %q", reasoning)
	}
	call := collectToolCall(t, chunks)
	var args struct {
		Location string `json:"location"`
		Unit     string `json:"unit"`
	}
	decodeStrict(t, []byte(*call.Function.Arguments), &args)
	if args.Location == "" || args.Unit != "" { // unit is optional: left out
		t.Errorf("arguments = %s", *call.Function.Arguments)
	}
	u := chunks[len(chunks)-1].Usage
	if u == nil || u.CompletionTokensDetails.ReasoningTokens != 3 ||
		u.CompletionTokens != 3+(&toolCall{args: *call.Function.Arguments}).chunks() {
		t.Errorf("usage = %+v", u)
	}
}
