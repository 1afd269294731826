package sim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompletions(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	tests := []struct {
		name, path, body string
		wantFinish       string
		wantWords        int
		wantPrompt       int
	}{
		{"legacy", "/v1/completions", `{"model":"deepseek-chat","prompt":"once upon a time"}`, "stop", 16, 4},
		{"bare path", "/completions", `{"model":"deepseek-chat","prompt":"x","max_tokens":3}`, "length", 3, 1},
		{"fim", "/beta/completions",
			`{"model":"deepseek-chat","prompt":"def fib(a):","suffix":"    return fib(a-1) + fib(a-2)","max_tokens":5,"echo":false,"logprobs":0}`,
			"length", 5, 6},
		{"prompt array", "/v1/completions", `{"model":"deepseek-chat","prompt":["a b","c"],"max_tokens":2}`, "length", 2, 3},
		{"token ids", "/v1/completions", `{"model":"deepseek-chat","prompt":[1,2,3],"max_tokens":2}`, "length", 2, 3},
		{"token id arrays", "/v1/completions", `{"model":"deepseek-chat","prompt":[[1,2],[3]],"max_tokens":2}`, "length", 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := do(t, s, http.MethodPost, tt.path, tt.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var got textCompletionJSON
			decodeStrict(t, rec.Body.Bytes(), &got)
			if got.Object != "text_completion" || got.Model != "deepseek-chat" || !hexID.MatchString(got.ID) ||
				len(got.Choices) != 1 || got.Usage == nil {
				t.Fatalf("response = %s", rec.Body)
			}
			ch := got.Choices[0]
			if ch.FinishReason == nil || *ch.FinishReason != tt.wantFinish || words(ch.Text) != tt.wantWords ||
				string(ch.Logprobs) != "null" {
				t.Errorf("choice = %s", rec.Body)
			}
			if got.Usage.PromptTokens != tt.wantPrompt || got.Usage.CompletionTokens != tt.wantWords {
				t.Errorf("usage = %+v", got.Usage)
			}

			stream := do(t, s, http.MethodPost, tt.path,
				strings.TrimSuffix(tt.body, "}")+`,"stream":true,"stream_options":{"include_usage":true}}`)
			events := parseSSE(t, stream.Body.String())
			if !events.done || len(events.data) != tt.wantWords+2 {
				t.Fatalf("stream = %s", stream.Body)
			}
			var text strings.Builder
			for i, d := range events.data {
				var chunk textCompletionJSON
				decodeStrict(t, []byte(d), &chunk)
				if chunk.Object != "text_completion" || chunk.ID != "" && !hexID.MatchString(chunk.ID) {
					t.Errorf("chunk %d = %s", i, d)
				}
				for _, c := range chunk.Choices {
					text.WriteString(c.Text)
				}
				if i == len(events.data)-1 && (len(chunk.Choices) != 0 || chunk.Usage == nil) {
					t.Errorf("last chunk is not the usage chunk: %s", d)
				}
			}
			if text.String() != ch.Text {
				t.Errorf("stream text %q != %q", text.String(), ch.Text)
			}
		})
	}
}

func TestFIMSuffixChangesText(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	text := func(body string) string {
		var got textCompletionJSON
		decodeStrict(t, do(t, s, http.MethodPost, "/beta/completions", body).Body.Bytes(), &got)
		return got.Choices[0].Text
	}
	a := text(`{"model":"deepseek-chat","prompt":"p","suffix":"one"}`)
	if a == text(`{"model":"deepseek-chat","prompt":"p","suffix":"two"}`) {
		t.Error("suffix does not influence the completion")
	}
	if a != text(`{"model":"deepseek-chat","prompt":"p","suffix":"one"}`) {
		t.Error("FIM is not deterministic")
	}
}

type embeddingsJSON struct {
	Object string `json:"object"`
	Model  string `json:"model"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

// vectors decodes every embedding, float or base64.
func vectors(t *testing.T, got embeddingsJSON) [][]float32 {
	t.Helper()
	out := make([][]float32, len(got.Data))
	for i, d := range got.Data {
		if d.Object != "embedding" || d.Index != i {
			t.Errorf("data[%d] = %+v", i, d)
		}
		var b64 string
		if json.Unmarshal(d.Embedding, &b64) == nil {
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || len(raw)%4 != 0 {
				t.Fatalf("bad base64 %q: %v", b64, err)
			}
			for j := 0; j < len(raw); j += 4 {
				out[i] = append(out[i], math.Float32frombits(binary.LittleEndian.Uint32(raw[j:])))
			}
			continue
		}
		if err := json.Unmarshal(d.Embedding, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestEmbeddings(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	tests := []struct {
		name, input, extra string
		wantN, wantDim     int
		wantTokens         int
	}{
		{"string", `"hello world"`, ``, 1, 16, 2},
		{"strings", `["a","b c","d"]`, ``, 3, 16, 4},
		{"token ids", `[1,2,3]`, ``, 1, 16, 3},
		{"token id arrays", `[[1,2],[3]]`, ``, 2, 16, 3},
		{"dimensions", `"x"`, `,"dimensions":64`, 1, 64, 1},
		{"base64", `["a","b"]`, `,"encoding_format":"base64"`, 2, 16, 2},
		{"explicit float", `"a"`, `,"encoding_format":"float"`, 1, 16, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := do(t, s, http.MethodPost, "/v1/embeddings",
				`{"model":"deepseek-chat","input":`+tt.input+tt.extra+`}`)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var got embeddingsJSON
			decodeStrict(t, rec.Body.Bytes(), &got)
			if got.Object != "list" || got.Model != "deepseek-chat" ||
				got.Usage.PromptTokens != tt.wantTokens || got.Usage.TotalTokens != tt.wantTokens {
				t.Errorf("response = %s", rec.Body)
			}
			vecs := vectors(t, got)
			if len(vecs) != tt.wantN {
				t.Fatalf("got %d vectors, want %d", len(vecs), tt.wantN)
			}
			for i, v := range vecs {
				var norm float64
				for _, x := range v {
					norm += float64(x) * float64(x)
				}
				if len(v) != tt.wantDim || math.Abs(norm-1) > 1e-5 {
					t.Errorf("vector %d: dim %d, norm² %v", i, len(v), norm)
				}
			}
		})
	}
}

func TestEmbeddingsFormatsAgree(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	get := func(extra string) [][]float32 {
		var got embeddingsJSON
		decodeStrict(t, do(t, s, http.MethodPost, "/embeddings",
			`{"model":"deepseek-chat","input":["same","other"]`+extra+`}`).Body.Bytes(), &got)
		return vectors(t, got)
	}
	floats, b64 := get(""), get(`,"encoding_format":"base64"`)
	if diff := cmp.Diff(floats, b64); diff != "" {
		t.Errorf("float vs base64 (-float +base64):\n%s", diff)
	}
	if cmp.Equal(floats[0], floats[1]) {
		t.Error("different inputs got the same vector")
	}
	if diff := cmp.Diff(floats[:1], get("")[:1]); diff != "" {
		t.Errorf("not deterministic:\n%s", diff)
	}
}

func TestModelsAndHealth(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{Models: []string{"m1", `we"ird`}})
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	want := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{"list", []model{
		{"m1", "model", fixedTime.Unix(), "dsgate-sim"},
		{`we"ird`, "model", fixedTime.Unix(), "dsgate-sim"},
	}}
	for _, path := range []string{"/v1/models", "/models"} {
		got := want
		got.Data = nil
		decodeStrict(t, do(t, s, http.MethodGet, path, "").Body.Bytes(), &got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
	}
	var one model
	decodeStrict(t, do(t, s, http.MethodGet, "/v1/models/m1", "").Body.Bytes(), &one)
	if diff := cmp.Diff(want.Data[0], one); diff != "" {
		t.Errorf("/v1/models/m1 (-want +got):\n%s", diff)
	}
	rec := do(t, s, http.MethodGet, "/health", "")
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("/health = %d %q", rec.Code, rec.Body)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantParam, wantCode      string
	}{
		{"bad json", "POST", "/v1/chat/completions", `{"model":`, 400, "", ""},
		{"wrong type", "POST", "/v1/chat/completions", `{"model":"deepseek-chat","messages":"hi"}`, 400, "", ""},
		{"bad content", "POST", "/v1/chat/completions", `{"model":"deepseek-chat","messages":[{"role":"user","content":5}]}`, 400, "", ""},
		{"no model", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, 400, "model", ""},
		{"unknown model", "POST", "/v1/chat/completions", `{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}`, 404, "model", "model_not_found"},
		{"missing messages", "POST", "/v1/chat/completions", `{"model":"deepseek-chat"}`, 400, "messages", ""},
		{"empty messages", "POST", "/chat/completions", `{"model":"deepseek-chat","messages":[]}`, 400, "messages", ""},
		{"zero max_tokens", "POST", "/v1/chat/completions", `{"model":"deepseek-chat","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, 400, "max_tokens", ""},
		{"negative max_completion_tokens", "POST", "/v1/chat/completions", `{"model":"deepseek-chat","max_completion_tokens":-1,"messages":[{"role":"user","content":"x"}]}`, 400, "max_completion_tokens", ""},
		{"missing prompt", "POST", "/v1/completions", `{"model":"deepseek-chat"}`, 400, "prompt", ""},
		{"bad prompt", "POST", "/v1/completions", `{"model":"deepseek-chat","prompt":{}}`, 400, "", ""},
		{"completion unknown model", "POST", "/beta/completions", `{"model":"nope","prompt":"x"}`, 404, "model", "model_not_found"},
		{"missing input", "POST", "/v1/embeddings", `{"model":"deepseek-chat"}`, 400, "input", ""},
		{"empty input", "POST", "/v1/embeddings", `{"model":"deepseek-chat","input":[]}`, 400, "input", ""},
		{"mixed input", "POST", "/v1/embeddings", `{"model":"deepseek-chat","input":["a",1]}`, 400, "", ""},
		{"bad dimensions", "POST", "/v1/embeddings", `{"model":"deepseek-chat","input":"a","dimensions":0}`, 400, "dimensions", ""},
		{"bad encoding", "POST", "/v1/embeddings", `{"model":"deepseek-chat","input":"a","encoding_format":"hex"}`, 400, "encoding_format", ""},
		{"get on post route", "GET", "/v1/chat/completions", "", 405, "", ""},
		{"post on get route", "POST", "/v1/models", "{}", 405, "", ""},
		{"unknown path", "GET", "/v2/nothing", "", 404, "", "not_found"},
		{"unknown model path", "GET", "/v1/models/nope", "", 404, "model", "model_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := do(t, s, tt.method, tt.path, tt.body)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			var got errorJSON
			decodeStrict(t, rec.Body.Bytes(), &got)
			e := got.Error
			if e.Message == "" || e.Type == "" {
				t.Errorf("error = %s", rec.Body)
			}
			if deref(e.Param) != tt.wantParam || deref(e.Code) != tt.wantCode {
				t.Errorf("param, code = %q, %q; want %q, %q", deref(e.Param), deref(e.Code), tt.wantParam, tt.wantCode)
			}
		})
	}
	if got := s.Stats().Requests; got != 0 {
		t.Errorf("rejected requests were counted: Requests = %d", got)
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
