package tinymodel

import (
	"fmt"
	"os"
	"path/filepath"
)

// The tests' models. Both take Qwen2's vocabulary (llama.cpp's
// models/ggml-vocab-qwen2.gguf) and define special tokens in its unused
// slots at the ids Qwen2.5 and DeepSeek-R1-Distill-Qwen gave them; their
// chat templates are llama.cpp's copies of the real models' templates
// (models/templates/*.jinja). What each model says is fixed by its chains:

// Fixed outputs of the tiny models, as the engine returns them.
const (
	// R1Reasoning is the R1 model's reasoning_content with thinking on.
	R1Reasoning = "Okay, the user says hi."
	// R1Answer is the R1 model's answer (content), thinking on or off.
	R1Answer = "Hello! How can I help?"
	// FIMMiddle is what /infill of any prefix and suffix returns.
	FIMMiddle = "return a + b"
	// Continuation follows any prompt that ends in ordinary text (legacy
	// completions, and chats whose template ends outside a chain).
	Continuation = " and they lived happily ever after"
	// ToolName and ToolArguments are the tools model's call.
	ToolName      = "get_weather"
	ToolArguments = `{"city": "Paris"}`
)

// Model files written by WriteModels.
const (
	R1File    = "tiny-r1.gguf"
	ToolsFile = "tiny-tools.gguf"
)

const (
	r1EOS       = "<｜end▁of▁sentence｜>"
	fimMiddle   = "<|fim_middle|>"
	imEnd       = "<|im_end|>"
	endOfText   = "<|endoftext|>"
	toolCall    = "<tool_call>"
	toolCallEnd = "</tool_call>"
)

// fimTokens are Qwen2.5's FIM tokens, at Qwen2.5's ids.
var fimTokens = []Added{
	{151659, "<|fim_prefix|>", TokenControl},
	{151660, fimMiddle, TokenControl},
	{151661, "<|fim_suffix|>", TokenControl},
	{151662, "<|fim_pad|>", TokenControl},
}

// continuation is the chain after ordinary text.
func continuation(eos string) []string {
	return []string{" and", " they", " lived", " happily", " ever", " after", eos}
}

// R1Spec is a DeepSeek-R1-Distill-Qwen double: R1's special tokens,
// R1-Distill-Qwen-32B's chat template (which opens "<think>\n" and, with
// enable_thinking false, closes it at once), reasoning then answer, and
// FIM.
func R1Spec(llamaModels string) (Spec, error) {
	tmpl, err := os.ReadFile(filepath.Join(llamaModels, "templates", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"))
	if err != nil {
		return Spec{}, err
	}
	added := []Added{
		{151643, r1EOS, TokenControl},
		{151644, "<｜User｜>", TokenUserDefined},
		{151645, "<｜Assistant｜>", TokenUserDefined},
		{151646, "<｜begin▁of▁sentence｜>", TokenControl},
		{151647, "<|EOT|>", TokenControl},
		{151648, "<think>", TokenUserDefined},
		{151649, "</think>", TokenUserDefined},
		// The answer ends with an end-of-generation token the template
		// does not name: llama-server renders the tokens a template's
		// parser needs (R1's end-of-sentence among them) into the content.
		{151650, endOfText, TokenControl},
	}
	return Spec{
		Name:     "tiny-r1",
		Vocab:    filepath.Join(llamaModels, "ggml-vocab-qwen2.gguf"),
		Added:    append(added, fimTokens...),
		Template: string(tmpl),
		BOS:      151646,
		EOS:      151643,
		Chains: [][]string{
			// "<think>\n" ends the prompt with thinking on.
			{"\n", "Okay", ",", " the", " user", " says", " hi", ".", "</think>"},
			// "<think>\n</think>" ends it with thinking off.
			{"</think>", "Hello", "!", " How", " can", " I", " help", "?", endOfText},
			{fimMiddle, "return", " a", " +", " b", r1EOS},
			continuation(r1EOS),
		},
		Default:       " and",
		ContextLength: 4096,
	}, nil
}

// ToolsSpec is a Qwen2.5-Instruct double whose every chat answer is one
// call of get_weather in Hermes style (<tool_call>{…}</tool_call>).
func ToolsSpec(llamaModels string) (Spec, error) {
	tmpl, err := os.ReadFile(filepath.Join(llamaModels, "templates", "Qwen-Qwen2.5-7B-Instruct.jinja"))
	if err != nil {
		return Spec{}, err
	}
	added := []Added{
		{151657, toolCall, TokenUserDefined},
		{151658, toolCallEnd, TokenUserDefined},
	}
	return Spec{
		Name:     "tiny-tools",
		Vocab:    filepath.Join(llamaModels, "ggml-vocab-qwen2.gguf"),
		Added:    append(added, fimTokens...),
		Template: string(tmpl),
		BOS:      -1,
		EOS:      151645,
		Chains: [][]string{
			// "<|im_start|>assistant\n" ends the prompt.
			{"\n", toolCall, "\n\n", `{"`, "name", `":"`, "get", "_weather", `","`, "arguments", `":{"`,
				"city", `":`, ` "`, "Paris", `"}`, "}\n", toolCallEnd, imEnd},
			{fimMiddle, "return", " a", " +", " b", endOfText},
			continuation(imEnd),
		},
		Default:       " and",
		ContextLength: 4096,
	}, nil
}

// WriteModels builds both models from llama.cpp's models directory (the
// vocabulary files and templates scripts/llamacpp.sh caches) into dir and
// returns their paths by file name.
func WriteModels(dir, llamaModels string) (map[string]string, error) {
	paths := map[string]string{}
	for file, spec := range map[string]func(string) (Spec, error){R1File: R1Spec, ToolsFile: ToolsSpec} {
		s, err := spec(llamaModels)
		if err != nil {
			return nil, err
		}
		m, err := Build(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		path := filepath.Join(dir, file)
		if err := writeFile(path, m); err != nil {
			return nil, err
		}
		paths[file] = path
	}
	return paths, nil
}

func writeFile(path string, m *File) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := m.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
