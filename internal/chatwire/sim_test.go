package chatwire_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/anthropic"
	"github.com/dsgate/dsgate/internal/responses"
	"github.com/dsgate/dsgate/internal/sim"
)

// Against the strict DeepSeek double: a two-turn tool conversation in
// thinking mode, through each API, streamed and not. The second turn is
// built from what the client received in the first, so it only succeeds
// if the reasoning round-trips into reasoning_content (DeepSeek answers
// 400 to a tool-call turn without it).

const simModel = "deepseek-v4-flash"

func startSim(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(sim.New(sim.Options{Personality: sim.PersonalityDeepSeek, APIKey: "sk-t"}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// post sends a chat body and returns the JSON answer, or the SSE data
// payloads (without [DONE]) of a streamed one.
func post(t *testing.T, url string, chat []byte) (status int, body []byte, chunks [][]byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/chat/completions", bytes.NewReader(chat))
	req.Header.Set("Authorization", "Bearer sk-t")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, b, nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" {
			chunks = append(chunks, []byte(d))
		}
	}
	return resp.StatusCode, nil, chunks
}

const weatherTool = `"name":"get_weather","description":"Current weather for a city"`
const weatherSchema = `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`

func TestSimMessages(t *testing.T) {
	url := startSim(t)
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "stream"}[stream], func(t *testing.T) {
			history := `{"role":"user","content":"What is the weather in Paris?"}`
			req := func() []byte {
				s := "false"
				if stream {
					s = "true"
				}
				return []byte(`{"model":"` + simModel + `","max_tokens":200,"stream":` + s +
					`,"thinking":{"type":"enabled","budget_tokens":1024},"tools":[{` + weatherTool + `,"input_schema":` + weatherSchema + `}],"messages":[` + history + `]}`)
			}
			turn := func() anthropicMessage {
				chat, info, err := anthropic.ToChat(req())
				if err != nil {
					t.Fatal(err)
				}
				status, body, chunks := post(t, url, chat)
				if status != 200 {
					t.Fatalf("upstream %d: %s", status, body)
				}
				if !stream {
					out, err := anthropic.FromChat(body, info)
					if err != nil {
						t.Fatal(err)
					}
					var m anthropicMessage
					if err := json.Unmarshal(out, &m); err != nil {
						t.Fatal(err)
					}
					return m
				}
				var events []event
				s := anthropic.NewStream(info)
				for _, c := range chunks {
					if err := s.Chunk(c, collect(&events)); err != nil {
						t.Fatal(err)
					}
					if err := s.Flush(collect(&events)); err != nil { // each chunk flushed as it comes
						t.Fatal(err)
					}
				}
				if err := s.Finish(collect(&events)); err != nil {
					t.Fatal(err)
				}
				return accumulateMessage(t, events)
			}
			first := turn()
			got := messageTurn(t, first)
			if first.StopReason != "tool_use" || len(got.Calls) != 1 || got.Calls[0].Name != "get_weather" || got.Reasoning == "" {
				t.Fatalf("first turn: %+v", got)
			}
			content, _ := json.Marshal(first.Content)
			history += `,{"role":"assistant","content":` + string(content) + `},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"` + got.Calls[0].ID + `","content":"sunny, 21C"}]}`
			second := turn()
			if got := messageTurn(t, second); second.StopReason != "end_turn" && second.StopReason != "max_tokens" || got.Text == "" {
				t.Fatalf("second turn: %s %+v", second.StopReason, got)
			}
			if second.Usage["input_tokens"]+second.Usage["cache_read_input_tokens"] == 0 || second.Usage["output_tokens"] == 0 {
				t.Errorf("second turn usage %v", second.Usage)
			}
		})
	}
}

func TestSimResponses(t *testing.T) {
	url := startSim(t)
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "stream"}[stream], func(t *testing.T) {
			input := `{"role":"user","content":"What is the weather in Paris?"}`
			req := func() []byte {
				s := "false"
				if stream {
					s = "true"
				}
				return []byte(`{"model":"` + simModel + `","store":false,"max_output_tokens":200,"stream":` + s +
					`,"tools":[{"type":"function",` + weatherTool + `,"parameters":` + weatherSchema + `}],"input":[` + input + `]}`)
			}
			turn := func() response {
				chat, info, err := responses.ToChat(req())
				if err != nil {
					t.Fatal(err)
				}
				status, body, chunks := post(t, url, chat)
				if status != 200 {
					t.Fatalf("upstream %d: %s", status, body)
				}
				if !stream {
					out, err := responses.FromChat(body, info)
					if err != nil {
						t.Fatal(err)
					}
					var r response
					if err := json.Unmarshal(out, &r); err != nil {
						t.Fatal(err)
					}
					return r
				}
				var events []event
				s := responses.NewStream(info)
				for _, c := range chunks {
					if err := s.Chunk(c, collect(&events)); err != nil {
						t.Fatal(err)
					}
					if err := s.Flush(collect(&events)); err != nil { // each chunk flushed as it comes
						t.Fatal(err)
					}
				}
				if err := s.Finish(collect(&events)); err != nil {
					t.Fatal(err)
				}
				acc, final := accumulateResponse(t, events)
				acc.Usage = final.Usage
				return acc
			}
			first := turn()
			got := responseTurn(t, first)
			if len(got.Calls) != 1 || got.Calls[0].Name != "get_weather" || got.Reasoning == "" {
				t.Fatalf("first turn: %+v", got)
			}
			for _, it := range first.Output {
				input += "," + string(it)
			}
			input += `,{"type":"function_call_output","call_id":"` + got.Calls[0].ID + `","output":"sunny, 21C"}`
			second := turn()
			if got := responseTurn(t, second); got.Text == "" || len(got.Calls) != 0 {
				t.Fatalf("second turn: %+v", got)
			}
			var u struct {
				InputTokens  int `json:"input_tokens"`
				OutputTokens int `json:"output_tokens"`
				Details      struct {
					Reasoning int `json:"reasoning_tokens"`
				} `json:"output_tokens_details"`
			}
			if err := json.Unmarshal(second.Usage, &u); err != nil || u.InputTokens == 0 || u.OutputTokens == 0 || u.Details.Reasoning == 0 {
				t.Errorf("second turn usage %s", second.Usage)
			}
		})
	}
}
