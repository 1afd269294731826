package tinymodel

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
)

// A tiny model is a "bigram machine" of llama.cpp's `llama` architecture:
// one block whose attention and feed-forward weights are all zero, so each
// block adds nothing to the residual stream and the last hidden state
// depends on the last token only. Token t's embedding is the one-hot vector
// of its state (its place in a chain, or state 0 for every token outside
// the chains); RMS normalisation turns it into sqrt(dim) at that place,
// and output.weight gives the chosen successor of each state a logit of
// sqrt(dim)*logitScale and every other token 0. With a margin of 64 nats
// over a 152k vocabulary the successor has probability 1 - 1e-22, so the
// text is fixed under greedy and sampled decoding alike.

// Token types of llama.cpp's vocabulary (llama_token_type).
const (
	TokenNormal      int32 = 1
	TokenControl     int32 = 3
	TokenUserDefined int32 = 4
)

const (
	dim        = 64 // embedding length; states 1..dim-1 are chain tokens
	ffLength   = 32
	logitScale = 8.0
)

// Added is a token placed in one of the vocabulary's unused ([PAD…]) slots,
// the way model makers add special tokens to a base vocabulary.
type Added struct {
	ID   int
	Text string
	Type int32
}

// Spec describes a tiny model.
type Spec struct {
	Name     string
	Vocab    string  // path of a llama.cpp ggml-vocab-*.gguf file
	Added    []Added // tokens defined in unused slots
	Template string  // tokenizer.chat_template ("" keeps the vocabulary's)
	BOS, EOS int     // token ids (-1 keeps the vocabulary's)
	// Chains are token texts (as decoded text: " the", "\n"); each token
	// is followed by the next one. A token may start or appear in several
	// chains only if its successor is the same everywhere.
	Chains [][]string
	// Default is the text of the token that follows every token outside
	// the chains (a prompt ending in ordinary text).
	Default string
	// ContextLength is the trained context length (llama.context_length).
	ContextLength int
}

// Build reads the vocabulary, applies the spec and returns the model file.
func Build(s Spec) (*File, error) {
	vf, err := os.Open(s.Vocab)
	if err != nil {
		return nil, err
	}
	defer vf.Close()
	vocab, err := Read(vf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Vocab, err)
	}
	tokens := vocab.Strings("tokenizer.ggml.tokens")
	types, _ := vocab.Get("tokenizer.ggml.token_type").(Array)
	if len(tokens) == 0 || len(types.Items) != len(tokens) {
		return nil, fmt.Errorf("%s: no tokens", s.Vocab)
	}
	for _, a := range s.Added {
		if a.ID < 0 || a.ID >= len(tokens) {
			return nil, fmt.Errorf("added token %q: id %d out of range", a.Text, a.ID)
		}
		tokens[a.ID] = a.Text
		types.Items[a.ID] = a.Type
	}
	ids := indexTokens(tokens, s.Added)
	next, err := successors(s, ids)
	if err != nil {
		return nil, err
	}
	f := &File{}
	f.Set("general.architecture", "llama")
	f.Set("general.name", s.Name)
	f.Set("general.file_type", uint32(1))
	ctx := s.ContextLength
	if ctx == 0 {
		ctx = 4096
	}
	for k, v := range map[string]uint32{"context_length": uint32(ctx), "embedding_length": dim,
		"block_count": 1, "feed_forward_length": ffLength, "attention.head_count": 1,
		"attention.head_count_kv": 1, "vocab_size": uint32(len(tokens))} {
		f.Set("llama."+k, v)
	}
	f.Set("llama.attention.layer_norm_rms_epsilon", float32(1e-6))
	copyTokenizer(f, vocab, s)
	items := make([]any, len(tokens))
	for i, t := range tokens {
		items[i] = t
	}
	f.Set("tokenizer.ggml.tokens", Array{Elem: typeString, Items: items})
	f.Set("tokenizer.ggml.token_type", types)
	f.Tensors = weights(len(tokens), next)
	return f, nil
}

// copyTokenizer copies the vocabulary's tokenizer settings (merges,
// pre-tokenizer, special ids) and applies the spec's overrides.
func copyTokenizer(f, vocab *File, s Spec) {
	for _, kv := range vocab.KV {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			f.Set(kv.Key, kv.Value)
		}
	}
	if s.Template != "" {
		f.Set("tokenizer.chat_template", s.Template)
	}
	if s.BOS >= 0 {
		f.Set("tokenizer.ggml.bos_token_id", uint32(s.BOS))
	}
	if s.EOS >= 0 {
		f.Set("tokenizer.ggml.eos_token_id", uint32(s.EOS))
		f.Set("tokenizer.ggml.padding_token_id", uint32(s.EOS))
	}
	f.Set("tokenizer.ggml.add_bos_token", false)
}

// indexTokens maps token strings to ids; added tokens win over the
// vocabulary's own strings.
func indexTokens(tokens []string, added []Added) map[string]int {
	ids := make(map[string]int, len(tokens))
	for i, t := range tokens {
		if _, dup := ids[t]; !dup {
			ids[t] = i
		}
	}
	for _, a := range added {
		ids[a.Text] = a.ID
	}
	return ids
}

// transition is one state: the tokens that enter it and its successor.
type transition struct {
	from []int
	to   int
}

// successors turns the chains into states: state 0 (the default) and one
// per token that has a successor.
func successors(s Spec, ids map[string]int) ([]transition, error) {
	lookup := func(text string) (int, error) {
		if id, ok := ids[text]; ok {
			return id, nil
		}
		if id, ok := ids[byteLevel(text)]; ok {
			return id, nil
		}
		return 0, fmt.Errorf("token %q is not in the vocabulary", text)
	}
	def, err := lookup(s.Default)
	if err != nil {
		return nil, err
	}
	states := []transition{{to: def}}
	succ := map[int]int{}
	for _, chain := range s.Chains {
		for i := 0; i+1 < len(chain); i++ {
			from, err := lookup(chain[i])
			if err != nil {
				return nil, err
			}
			to, err := lookup(chain[i+1])
			if err != nil {
				return nil, err
			}
			if prev, seen := succ[from]; seen {
				if prev != to {
					return nil, fmt.Errorf("token %q is followed by two different tokens", chain[i])
				}
				continue
			}
			succ[from] = to
			states = append(states, transition{from: []int{from}, to: to})
		}
	}
	if len(states) > dim {
		return nil, fmt.Errorf("%d states do not fit in %d dimensions", len(states), dim)
	}
	return states, nil
}

// weights builds the tensors of the bigram machine.
func weights(vocab int, states []transition) []Tensor {
	embd := make([]float32, vocab*dim)
	for t := 0; t < vocab; t++ {
		embd[t*dim] = 1 // state 0 unless a chain claims the token
	}
	out := make([]float32, vocab*dim)
	for s, tr := range states {
		for _, t := range tr.from {
			embd[t*dim] = 0
			embd[t*dim+s] = 1
		}
		out[tr.to*dim+s] = logitScale
	}
	ones := make([]float32, dim)
	for i := range ones {
		ones[i] = 1
	}
	zero := func(name string, rows, cols int) Tensor {
		return Tensor{Name: name, Dims: []uint64{uint64(rows), uint64(cols)}, Type: TypeF32,
			Data: make([]byte, rows*cols*4)}
	}
	vec := func(name string, v []float32) Tensor {
		return Tensor{Name: name, Dims: []uint64{uint64(len(v))}, Type: TypeF32, Data: f32Bytes(v)}
	}
	mat16 := func(name string, v []float32) Tensor {
		return Tensor{Name: name, Dims: []uint64{dim, uint64(vocab)}, Type: TypeF16, Data: f16Bytes(v)}
	}
	return []Tensor{
		mat16("token_embd.weight", embd),
		vec("output_norm.weight", ones),
		mat16("output.weight", out),
		vec("blk.0.attn_norm.weight", ones),
		zero("blk.0.attn_q.weight", dim, dim),
		zero("blk.0.attn_k.weight", dim, dim),
		zero("blk.0.attn_v.weight", dim, dim),
		zero("blk.0.attn_output.weight", dim, dim),
		vec("blk.0.ffn_norm.weight", ones),
		zero("blk.0.ffn_gate.weight", dim, ffLength),
		zero("blk.0.ffn_up.weight", dim, ffLength),
		zero("blk.0.ffn_down.weight", ffLength, dim),
	}
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 0, len(v)*4)
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// f16Bytes encodes values as IEEE half floats. Only the exact small values
// the models use (0, 1, logitScale) occur, so normal numbers without
// rounding are enough.
func f16Bytes(v []float32) []byte {
	b := make([]byte, len(v)*2)
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[i*2:], toHalf(x))
	}
	return b
}

func toHalf(x float32) uint16 {
	if x == 0 {
		return 0
	}
	bits := math.Float32bits(x)
	sign := uint16(bits>>16) & 0x8000
	exp := int((bits>>23)&0xff) - 127 + 15
	mant := uint16((bits >> 13) & 0x3ff)
	return sign | uint16(exp)<<10 | mant
}

// byteLevel writes text the way GPT-2 style (byte-level BPE) vocabularies
// store tokens: each byte as a printable rune ("Ġ" for a space, "Ċ" for a
// newline).
func byteLevel(text string) string {
	var sb strings.Builder
	for _, b := range []byte(text) {
		sb.WriteRune(byteRune[b])
	}
	return sb.String()
}

// byteRune is GPT-2's bytes_to_unicode table.
var byteRune = func() [256]rune {
	var t [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			t[b] = rune(b)
			continue
		}
		t[b] = rune(256 + n)
		n++
	}
	return t
}()
