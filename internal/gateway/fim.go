package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Fill in the middle goes to each engine's own FIM API (upstream.Target.FIM):
// DeepSeek and Ollama read the completions API's suffix; llama.cpp's
// /infill takes input_prefix and input_suffix and answers in its native
// shape, mapped back to an OpenAI completion here; vLLM and SGLang get a
// prompt built with the model's FIM tokens. A target that can do none of
// these is skipped, and a model with no such target answers 400: never a
// plain continuation that ignores the suffix.

// sendEndpoint is the endpoint a call is sent to: a completion with a
// suffix goes where FIM goes.
func sendEndpoint(c *Call) openai.Endpoint {
	if c.Req.FIM() {
		return openai.EndpointFIM
	}
	return c.Req.Endpoint
}

// fimRefusal is the 400 for a FIM call target t cannot serve as asked, or
// nil: a target without any FIM way, or n > 1 on llama.cpp's /infill,
// which generates one completion.
func fimRefusal(c *Call, model string, t *upstream.Target) *openai.Error {
	if !c.Req.FIM() {
		return nil
	}
	switch mode, _ := t.FIM(); {
	case mode == upstream.FIMNone:
		return &openai.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "suffix", Code: "fim_not_supported",
			Message: "model " + model + " cannot fill in the middle: its engine has no FIM API and the model's FIM tokens are unknown (the target's fim setting names them)"}
	case mode == upstream.FIMInfill && c.Req.N > 1:
		return &openai.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "n", Code: "fim_not_supported",
			Message: "model " + model + " fills in the middle with llama.cpp's /infill, which generates one completion: n must be 1"}
	}
	return nil
}

// fimBody rewrites a FIM call's body for the target's FIM mode.
func fimBody(body []byte, mode upstream.FIMMode, tpl upstream.FIMTemplate) ([]byte, error) {
	if mode != upstream.FIMInfill && mode != upstream.FIMTokens {
		return body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	var prefix, suffix string
	if json.Unmarshal(m["prompt"], &prefix) != nil {
		return nil, openai.InvalidRequest("prompt", "prompt must be a string for FIM completion")
	}
	if s := m["suffix"]; s != nil && string(s) != "null" && json.Unmarshal(s, &suffix) != nil {
		return nil, openai.InvalidRequest("suffix", "suffix must be a string")
	}
	delete(m, "suffix")
	if mode == upstream.FIMInfill {
		// llama.cpp's /infill: input_prefix and input_suffix are required;
		// its own prompt would go after the middle token, so it is dropped.
		// input_extra (llama.cpp's extra context files) passes through.
		delete(m, "prompt")
		m["input_prefix"], _ = json.Marshal(prefix)
		m["input_suffix"], _ = json.Marshal(suffix)
		if mct := m["max_completion_tokens"]; mct != nil && m["max_tokens"] == nil {
			m["n_predict"] = mct // llama.cpp reads n_predict, else max_tokens
		}
	} else {
		m["prompt"], _ = json.Marshal(tpl.Prompt(prefix, suffix))
	}
	return json.Marshal(m)
}

// infillResult is llama.cpp's native completion result
// (server_task_result_cmpl_final::to_json_non_oaicompat; the partial
// results of a stream carry content, stop false and the token counts).
type infillResult struct {
	Content         string          `json:"content"`
	Stop            bool            `json:"stop"`
	StopType        string          `json:"stop_type"`
	TokensPredicted int             `json:"tokens_predicted"`
	TokensEvaluated int             `json:"tokens_evaluated"`
	Timings         json.RawMessage `json:"timings"`
}

// finishReason maps llama.cpp's stop_type as its own OpenAI endpoints do:
// an end-of-generation token or a stop word is "stop", anything else
// (the token limit) "length".
func (r infillResult) finishReason() string {
	if r.StopType == "eos" || r.StopType == "word" {
		return "stop"
	}
	return "length"
}

func (r infillResult) usage() string {
	return fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}`,
		r.TokensEvaluated, r.TokensPredicted, r.TokensEvaluated+r.TokensPredicted)
}

// infillHead is the start of every completion object made from /infill.
func infillHead(c *Call, created time.Time) string {
	return `{"id":"cmpl-` + c.RequestID + `","object":"text_completion","created":` + strconv.FormatInt(created.Unix(), 10) +
		`,"model":` + string(quote(c.Req.Model))
}

// infillCompletion maps /infill's answer to an OpenAI completion with
// usage, keeping llama.cpp's timings.
func infillCompletion(c *Call, raw []byte, now time.Time) ([]byte, error) {
	var r infillResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	out := infillHead(c, now) + `,"choices":[{"text":` + string(quote(r.Content)) + `,"index":0,"logprobs":null,"finish_reason":"` +
		r.finishReason() + `"}],"usage":` + r.usage()
	if len(r.Timings) > 0 {
		out += `,"timings":` + string(r.Timings)
	}
	return []byte(out + "}"), nil
}

// infillStream maps /infill's native stream (one result per event, no
// [DONE]) to OpenAI completion chunks: one per piece of text, then the
// finish chunk and a usage chunk carrying the timings (dropped again,
// timings moved, for clients that did not ask for usage).
type infillStream struct {
	head string
}

// convert returns the chunks for one native event and whether it was the
// last. Error events pass through unchanged.
func (s *infillStream) convert(p []byte) ([][]byte, bool, error) {
	if openai.Field(p, "error") != nil {
		return [][]byte{p}, false, nil
	}
	var r infillResult
	if err := json.Unmarshal(p, &r); err != nil {
		return nil, false, err
	}
	var out [][]byte
	if r.Content != "" {
		out = append(out, []byte(s.head+`,"choices":[{"text":`+string(quote(r.Content))+`,"index":0,"logprobs":null,"finish_reason":null}]}`))
	}
	if !r.Stop {
		return out, false, nil
	}
	out = append(out, []byte(s.head+`,"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"`+r.finishReason()+`"}]}`))
	usage := s.head + `,"choices":[],"usage":` + r.usage()
	if len(r.Timings) > 0 {
		usage += `,"timings":` + string(r.Timings)
	}
	return append(out, []byte(usage+"}")), true, nil
}
