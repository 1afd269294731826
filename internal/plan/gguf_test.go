package plan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

type ggufTensor struct {
	name string
	dims []uint64
	typ  uint32
}

// writeGGUF builds a GGUF v3 header: metadata (uint32, string and string
// array values) and tensor infos. No tensor data follows; the reader never
// needs it.
func writeGGUF(t *testing.T, meta map[string]any, tensors []ggufTensor) []byte {
	t.Helper()
	var b bytes.Buffer
	le := func(v any) {
		if err := binary.Write(&b, binary.LittleEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	str := func(s string) { le(uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	le(uint32(3))
	le(uint64(len(tensors)))
	le(uint64(len(meta)))
	for k, v := range meta {
		str(k)
		switch v := v.(type) {
		case uint32:
			le(uint32(4))
			le(v)
		case string:
			le(uint32(8))
			str(v)
		case []string:
			le(uint32(9))
			le(uint32(8))
			le(uint64(len(v)))
			for _, s := range v {
				str(s)
			}
		default:
			t.Fatalf("writeGGUF: unsupported %T", v)
		}
	}
	for _, tn := range tensors {
		str(tn.name)
		le(uint32(len(tn.dims)))
		for _, d := range tn.dims {
			le(d)
		}
		le(tn.typ)
		le(uint64(0))
	}
	return b.Bytes()
}

// A two-layer Llama-shaped header at Q4_K (type 12) with F32 norms and a
// Q6_K (type 14) output head.
func tinyLlamaGGUF(t *testing.T) []byte {
	meta := map[string]any{
		"general.architecture":           "llama",
		"general.name":                   "tiny-llama",
		"llama.block_count":              uint32(2),
		"llama.embedding_length":         uint32(256),
		"llama.feed_forward_length":      uint32(512),
		"llama.attention.head_count":     uint32(4),
		"llama.attention.head_count_kv":  uint32(2),
		"llama.context_length":           uint32(4096),
		"tokenizer.ggml.tokens":          []string{"<s>", "</s>", "a"},
		"tokenizer.chat_template":        "{{ messages }}",
		"llama.attention.layer_norm_eps": uint32(0),
	}
	ts := []ggufTensor{{"token_embd.weight", []uint64{256, 1024}, 12}, {"output.weight", []uint64{256, 1024}, 14}, {"output_norm.weight", []uint64{256}, 0}}
	for i := range 2 {
		p := "blk." + string(rune('0'+i)) + "."
		ts = append(ts,
			ggufTensor{p + "attn_q.weight", []uint64{256, 256}, 12},
			ggufTensor{p + "attn_k.weight", []uint64{256, 128}, 12},
			ggufTensor{p + "attn_v.weight", []uint64{256, 128}, 14},
			ggufTensor{p + "attn_output.weight", []uint64{256, 256}, 12},
			ggufTensor{p + "ffn_gate.weight", []uint64{256, 512}, 12},
			ggufTensor{p + "ffn_up.weight", []uint64{256, 512}, 12},
			ggufTensor{p + "ffn_down.weight", []uint64{512, 256}, 14},
			ggufTensor{p + "attn_norm.weight", []uint64{256}, 0},
			ggufTensor{p + "ffn_norm.weight", []uint64{256}, 0},
		)
	}
	return writeGGUF(t, meta, ts)
}

func TestReadGGUF(t *testing.T) {
	t.Parallel()
	f, err := ReadGGUF(bytes.NewReader(tinyLlamaGGUF(t)))
	if err != nil {
		t.Fatal(err)
	}
	// Parameters: embed + output 2x262,144, norms 256 x 5, per layer
	// q 65,536 + k 32,768 + v 32,768 + o 65,536 + 3 x 131,072 = 589,824.
	wantParams := 2*262144.0 + 5*256 + 2*589824
	if f.Params != wantParams {
		t.Errorf("params = %v, want %v", f.Params, wantParams)
	}
	q4k, q6k := 144.0/256, 210.0/256 // bytes per weight
	wantBytes := 262144*q4k + 262144*q6k + 5*256*4 + 2*((65536+32768+65536+131072*2)*q4k+(32768+131072)*q6k)
	if f.Bytes != wantBytes {
		t.Errorf("bytes = %v, want %v", f.Bytes, wantBytes)
	}
	m, err := f.Model("x")
	if err != nil {
		t.Fatal(err)
	}
	if m.Attention() != AttentionGQA || m.Config.kvHeads() != 2 || m.Config.headDim() != 64 {
		t.Errorf("config mapping: %+v", m.Config)
	}
	if m.FixedPrecision != "gguf Q4_K" {
		t.Errorf("precision %q", m.FixedPrecision)
	}
	if got, want := m.KVBytesPerSequence(1, 2), 2.0*2*2*64*2; got != want {
		t.Errorf("KV per token %v, want %v", got, want)
	}
}

func TestReadGGUFRejectsBadInput(t *testing.T) {
	t.Parallel()
	if _, err := ReadGGUF(bytes.NewReader([]byte("GGML0000"))); !errors.Is(err, ErrNotGGUF) {
		t.Errorf("wrong magic: %v", err)
	}
	full := tinyLlamaGGUF(t)
	if _, err := ReadGGUF(bytes.NewReader(full[:len(full)/2])); err == nil {
		t.Error("truncated header accepted")
	}
	huge := append([]byte("GGUF\x03\x00\x00\x00"), bytes.Repeat([]byte{0xff}, 16)...)
	if _, err := ReadGGUF(bytes.NewReader(huge)); err == nil {
		t.Error("absurd tensor count accepted")
	}
}

func TestLoadGGUFAndSafetensorsFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gg := filepath.Join(dir, "tiny.gguf")
	if err := os.WriteFile(gg, tinyLlamaGGUF(t), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := LoadFile(gg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "tiny-llama" || m.FixedWeightBytes == 0 {
		t.Errorf("gguf model: name %q bytes %v", m.Name, m.FixedWeightBytes)
	}

	// A single .safetensors file: header only, config.json beside it.
	hdr, err := json.Marshal(map[string]any{
		"__metadata__": map[string]string{"format": "pt"},
		"a":            map[string]any{"dtype": "BF16", "shape": []int{10, 10}, "data_offsets": []int{0, 200}},
		"b":            map[string]any{"dtype": "F8_E4M3", "shape": []int{100}, "data_offsets": []int{200, 300}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var st bytes.Buffer
	if err := binary.Write(&st, binary.LittleEndian, uint64(len(hdr))); err != nil {
		t.Fatal(err)
	}
	st.Write(hdr)
	sdir := filepath.Join(dir, "m")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join("testdata", "r1-distill-qwen-7b", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sdir, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	sf := filepath.Join(sdir, "model.safetensors")
	if err := os.WriteFile(sf, st.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err = LoadFile(sf)
	if err != nil {
		t.Fatal(err)
	}
	if m.FixedWeightBytes != 300 {
		t.Errorf("safetensors bytes = %v, want 300", m.FixedWeightBytes)
	}
	// Without config.json the architecture is unknown.
	lone := filepath.Join(dir, "lone.safetensors")
	if err := os.WriteFile(lone, st.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(lone); err == nil {
		t.Error("safetensors without config.json accepted")
	}
}
