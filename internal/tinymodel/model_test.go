package tinymodel

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/testkit"
)

// writeVocab writes a small byte-level vocabulary file like llama.cpp's
// ggml-vocab-*.gguf: tokenizer metadata and no tensors.
func writeVocab(t *testing.T, tokens []string) string {
	t.Helper()
	items, types := make([]any, len(tokens)), make([]any, len(tokens))
	for i, tok := range tokens {
		items[i], types[i] = byteLevel(tok), TokenNormal
	}
	f := &File{}
	f.Set("general.architecture", "qwen2")
	f.Set("tokenizer.ggml.model", "gpt2")
	f.Set("tokenizer.ggml.tokens", Array{Elem: typeString, Items: items})
	f.Set("tokenizer.ggml.token_type", Array{Elem: typeInt32, Items: types})
	f.Set("tokenizer.ggml.merges", Array{Elem: typeString, Items: []any{"Ġ a"}})
	f.Set("tokenizer.ggml.eos_token_id", uint32(0))
	path := filepath.Join(t.TempDir(), "vocab.gguf")
	if err := writeFile(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGGUFRoundTrip(t *testing.T) {
	f := &File{}
	f.Set("general.architecture", "llama")
	f.Set("a.u32", uint32(7))
	f.Set("a.f32", float32(1.5))
	f.Set("a.bool", true)
	f.Set("a.i64", int64(-3))
	f.Set("a.strings", Array{Elem: typeString, Items: []any{"x", "yz"}})
	f.Tensors = []Tensor{{Name: "w", Dims: []uint64{3, 2}, Type: TypeF32, Data: f32Bytes([]float32{1, 2, 3, 4, 5, 6})}}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%alignment != 0 {
		t.Errorf("file of %d bytes is not padded to %d", buf.Len(), alignment)
	}
	g, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.KV, f.KV) {
		t.Errorf("metadata %v, want %v", g.KV, f.KV)
	}
	if len(g.Tensors) != 1 || !reflect.DeepEqual(g.Tensors[0].Dims, []uint64{3, 2}) || g.Tensors[0].Name != "w" {
		t.Errorf("tensors %+v", g.Tensors)
	}
}

// next runs the model's forward pass for a last token (the blocks add
// nothing) and returns the arg-max token and its logit margin.
func next(t *testing.T, m *File, tok int) (int, float64) {
	t.Helper()
	var embd, out []byte
	for _, ts := range m.Tensors {
		switch ts.Name {
		case "token_embd.weight":
			embd = ts.Data
		case "output.weight":
			out = ts.Data
		}
	}
	half := func(b []byte, i int) float64 { return halfToFloat(binary.LittleEndian.Uint16(b[i*2:])) }
	x := make([]float64, dim)
	sum := 0.0
	for i := range x {
		x[i] = half(embd, tok*dim+i)
		sum += x[i] * x[i]
	}
	rms := math.Sqrt(sum/dim + 1e-6)
	best, bestLogit, second := -1, math.Inf(-1), math.Inf(-1)
	for v := 0; v < len(out)/2/dim; v++ {
		logit := 0.0
		for i := range x {
			logit += half(out, v*dim+i) * x[i] / rms
		}
		if logit > bestLogit {
			best, bestLogit, second = v, logit, bestLogit
		} else if logit > second {
			second = logit
		}
	}
	return best, bestLogit - second
}

func halfToFloat(h uint16) float64 {
	if h&0x7fff == 0 {
		return 0
	}
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h&0x3ff) / 1024
	return sign * (1 + mant) * math.Pow(2, float64(exp-15))
}

func TestBigramMachineFollowsItsChains(t *testing.T) {
	tokens := []string{"<eos>", " a", " b", " c", "\n", "x", "y", " z"}
	spec := Spec{Name: "t", Vocab: writeVocab(t, tokens), BOS: -1, EOS: 0,
		Added:   []Added{{0, "<eos>", TokenControl}},
		Chains:  [][]string{{"\n", " a", " b", "<eos>"}, {"x", " c", "<eos>"}},
		Default: " z"}
	m, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]int{4: 1, 1: 2, 2: 0, 5: 3, 3: 0, 6: 7, 7: 7, 0: 7}
	for from, to := range want {
		got, margin := next(t, m, from)
		if got != to {
			t.Errorf("after %q: %q, want %q", tokens[from], tokens[got], tokens[to])
		}
		if margin < 60 {
			t.Errorf("after %q: logit margin %.1f, want >= 60 (the chain must win under sampling)", tokens[from], margin)
		}
	}
	if got := m.Get("llama.block_count"); got != uint32(1) {
		t.Errorf("block_count %v", got)
	}
}

func TestBuildRefusesAmbiguousChains(t *testing.T) {
	vocab := writeVocab(t, []string{"<eos>", " a", " b", " c"})
	for name, chains := range map[string][][]string{
		"two successors": {{" a", " b", "<eos>"}, {" a", " c", "<eos>"}},
		"unknown token":  {{" a", " nope", "<eos>"}},
	} {
		_, err := Build(Spec{Vocab: vocab, BOS: -1, EOS: 0, Chains: chains, Default: " a"})
		if err == nil {
			t.Errorf("%s: built", name)
		}
	}
}

// The real models, from llama.cpp's vocabulary when scripts/llamacpp.sh
// has cached it: every chain token exists and the models fit.
func TestRealModelsBuild(t *testing.T) {
	home, err := LlamaHome()
	if err == nil {
		_, err = os.Stat(filepath.Join(home, "models", "ggml-vocab-qwen2.gguf"))
	}
	testkit.Need(t, "llama.cpp's vocabularies", "run scripts/llamacpp.sh", err)
	for _, spec := range []func(string) (Spec, error){R1Spec, ToolsSpec} {
		s, err := spec(filepath.Join(home, "models"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Build(s)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if tmpl, _ := m.Get("tokenizer.chat_template").(string); !strings.Contains(tmpl, "add_generation_prompt") {
			t.Errorf("%s: chat template %q", s.Name, tmpl)
		}
	}
}
