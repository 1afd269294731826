package cache

import (
	"encoding/json"
	"fmt"
)

// textCompletion is a legacy or FIM completion; its stream chunks have the
// same shape (object "text_completion" in both).
type textCompletion struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           json.Number     `json:"created"`
	Model             string          `json:"model"`
	SystemFingerprint *string         `json:"system_fingerprint,omitempty"`
	Choices           []textChoice    `json:"choices"`
	Usage             json.RawMessage `json:"usage,omitempty"`
	Error             json.RawMessage `json:"error,omitempty"`
}

type textChoice struct {
	Index        int           `json:"index"`
	Text         string        `json:"text"`
	Logprobs     *textLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

// textLogprobs lists are parallel arrays that concatenate across chunks.
type textLogprobs struct {
	TextOffset    []json.RawMessage `json:"text_offset"`
	TokenLogprobs []json.RawMessage `json:"token_logprobs"`
	Tokens        []json.RawMessage `json:"tokens"`
	TopLogprobs   []json.RawMessage `json:"top_logprobs"`
}

func assembleText(chunks [][]byte) ([]byte, error) {
	var out textCompletion
	var choices []*textChoice
	for i, payload := range chunks {
		if skipPayload(payload) {
			continue
		}
		var c textCompletion
		if err := json.Unmarshal(payload, &c); err != nil {
			return nil, fmt.Errorf("decoding chunk %d: %w", i, err)
		}
		if present(c.Error) {
			return nil, fmt.Errorf("chunk %d: %w", i, ErrStreamError)
		}
		if out.ID == "" {
			out.ID, out.Created, out.Model = c.ID, c.Created, c.Model
		}
		if out.SystemFingerprint == nil {
			out.SystemFingerprint = c.SystemFingerprint
		}
		if present(c.Usage) {
			out.Usage = c.Usage
		}
		for _, d := range c.Choices {
			if d.Index < 0 || d.Index >= maxChoices {
				return nil, fmt.Errorf("chunk %d: choice index %d out of range", i, d.Index)
			}
			for len(choices) <= d.Index {
				choices = append(choices, nil)
			}
			if choices[d.Index] == nil {
				choices[d.Index] = &textChoice{Index: d.Index}
			}
			mergeTextDelta(choices[d.Index], &d)
		}
	}
	out.Object = objectText
	out.Choices = make([]textChoice, 0, len(choices))
	for _, ch := range choices {
		if ch != nil {
			out.Choices = append(out.Choices, *ch)
		}
	}
	return json.Marshal(out)
}

func mergeTextDelta(ch *textChoice, d *textChoice) {
	ch.Text += d.Text
	if d.Logprobs != nil {
		if ch.Logprobs == nil {
			ch.Logprobs = &textLogprobs{}
		}
		ch.Logprobs.TextOffset = append(ch.Logprobs.TextOffset, d.Logprobs.TextOffset...)
		ch.Logprobs.TokenLogprobs = append(ch.Logprobs.TokenLogprobs, d.Logprobs.TokenLogprobs...)
		ch.Logprobs.Tokens = append(ch.Logprobs.Tokens, d.Logprobs.Tokens...)
		ch.Logprobs.TopLogprobs = append(ch.Logprobs.TopLogprobs, d.Logprobs.TopLogprobs...)
	}
	if d.FinishReason != nil && *d.FinishReason != "" {
		ch.FinishReason = d.FinishReason
	}
}

// replayText sends per choice one chunk with the whole text and its logprobs,
// then a finish chunk with empty text.
func replayText(body []byte, includeUsage bool) ([][]byte, error) {
	var tc textCompletion
	if err := json.Unmarshal(body, &tc); err != nil {
		return nil, fmt.Errorf("decoding text completion: %w", err)
	}
	base := textCompletion{
		ID: tc.ID, Object: objectText, Created: tc.Created, Model: tc.Model,
		SystemFingerprint: tc.SystemFingerprint,
	}
	if includeUsage {
		base.Usage = json.RawMessage("null")
	}
	var out [][]byte
	emit := func(choices []textChoice, usage json.RawMessage) error {
		c := base
		c.Choices = choices
		if usage != nil {
			c.Usage = usage
		}
		b, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("encoding chunk: %w", err)
		}
		out = append(out, b)
		return nil
	}
	for _, ch := range tc.Choices {
		if err := emit([]textChoice{{Index: ch.Index, Text: ch.Text, Logprobs: ch.Logprobs}}, nil); err != nil {
			return nil, err
		}
		if err := emit([]textChoice{{Index: ch.Index, FinishReason: ch.FinishReason}}, nil); err != nil {
			return nil, err
		}
	}
	if includeUsage && present(tc.Usage) {
		if err := emit([]textChoice{}, tc.Usage); err != nil {
			return nil, err
		}
	}
	return out, nil
}
