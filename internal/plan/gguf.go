package plan

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// GGUF reading follows the format description in ggml's docs/gguf.md:
// magic "GGUF", uint32 version (2 or 3), uint64 tensor count, uint64
// metadata count, the metadata key/value pairs, then one info record per
// tensor (name, dims, ggml type, offset). Only the header is read; tensor
// data is never touched, so a header-only file works as well as the full
// model.

// ErrNotGGUF reports a file without the GGUF magic.
var ErrNotGGUF = errors.New("not a GGUF file")

const (
	ggufMaxString  = 16 << 20 // longest string accepted (chat templates are ~10 KB)
	ggufMaxArray   = 1 << 24  // longest array accepted (vocabularies are ~150k)
	ggufMaxTensors = 1 << 20
)

// ggmlType is one ggml tensor type: weights per block and bytes per block,
// from ggml-common.h / ggml.c type_traits.
type ggmlType struct {
	name  string
	block int
	size  int
}

var ggmlTypes = map[uint32]ggmlType{
	0: {"F32", 1, 4}, 1: {"F16", 1, 2}, 2: {"Q4_0", 32, 18}, 3: {"Q4_1", 32, 20},
	6: {"Q5_0", 32, 22}, 7: {"Q5_1", 32, 24}, 8: {"Q8_0", 32, 34}, 9: {"Q8_1", 32, 36},
	10: {"Q2_K", 256, 84}, 11: {"Q3_K", 256, 110}, 12: {"Q4_K", 256, 144}, 13: {"Q5_K", 256, 176},
	14: {"Q6_K", 256, 210}, 15: {"Q8_K", 256, 292}, 16: {"IQ2_XXS", 256, 66}, 17: {"IQ2_XS", 256, 74},
	18: {"IQ3_XXS", 256, 98}, 19: {"IQ1_S", 256, 50}, 20: {"IQ4_NL", 32, 18}, 21: {"IQ3_S", 256, 110},
	22: {"IQ2_S", 256, 82}, 23: {"IQ4_XS", 256, 136}, 24: {"I8", 1, 1}, 25: {"I16", 1, 2},
	26: {"I32", 1, 4}, 27: {"I64", 1, 8}, 28: {"F64", 1, 8}, 29: {"IQ1_M", 256, 56},
	30: {"BF16", 1, 2}, 34: {"TQ1_0", 256, 54}, 35: {"TQ2_0", 256, 66}, 39: {"MXFP4", 32, 17},
}

// GGUFFile is what sizing reads from a GGUF header.
type GGUFFile struct {
	Version      uint32
	Architecture string
	Metadata     map[string]any // scalars only; arrays keep their first element
	Params       float64
	ExpertParams float64
	EmbedParams  float64
	Bytes        float64            // exact tensor data size
	TypeBytes    map[string]float64 // tensor bytes per ggml type
}

// ReadGGUF parses a GGUF header.
func ReadGGUF(r io.Reader) (*GGUFFile, error) {
	g := &ggufReader{r: bufio.NewReaderSize(r, 1<<16)}
	var magic [4]byte
	if _, err := io.ReadFull(g.r, magic[:]); err != nil {
		return nil, fmt.Errorf("reading GGUF magic: %w", err)
	}
	if string(magic[:]) != "GGUF" {
		return nil, ErrNotGGUF
	}
	f := &GGUFFile{Metadata: map[string]any{}, TypeBytes: map[string]float64{}}
	f.Version = g.u32()
	nTensors, nKV := g.u64(), g.u64()
	if g.err == nil && (f.Version < 2 || f.Version > 3) {
		return nil, fmt.Errorf("unsupported GGUF version %d", f.Version)
	}
	if nTensors > ggufMaxTensors || nKV > ggufMaxTensors {
		return nil, fmt.Errorf("GGUF header claims %d tensors and %d keys: corrupt", nTensors, nKV)
	}
	for i := uint64(0); i < nKV && g.err == nil; i++ {
		k := g.str()
		v := g.value(g.u32())
		f.Metadata[k] = v
	}
	for i := uint64(0); i < nTensors && g.err == nil; i++ {
		g.tensor(f)
	}
	if g.err != nil {
		return nil, fmt.Errorf("reading GGUF header: %w", g.err)
	}
	f.Architecture, _ = f.Metadata["general.architecture"].(string)
	return f, nil
}

type ggufReader struct {
	r   *bufio.Reader
	err error
}

func (g *ggufReader) read(n int) []byte {
	if g.err != nil {
		return nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(g.r, b); err != nil {
		g.err = err
		return nil
	}
	return b
}

func (g *ggufReader) u32() uint32 {
	if b := g.read(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (g *ggufReader) u64() uint64 {
	if b := g.read(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (g *ggufReader) str() string {
	n := g.u64()
	if n > ggufMaxString {
		g.fail(fmt.Errorf("string of %d bytes", n))
		return ""
	}
	return string(g.read(int(n)))
}

func (g *ggufReader) fail(err error) {
	if g.err == nil {
		g.err = err
	}
}

// value reads one metadata value of GGUF type t.
func (g *ggufReader) value(t uint32) any {
	sizes := map[uint32]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
	switch t {
	case 8:
		return g.str()
	case 9:
		et, n := g.u32(), g.u64()
		if n > ggufMaxArray {
			g.fail(fmt.Errorf("array of %d elements", n))
			return nil
		}
		var first any
		for i := uint64(0); i < n && g.err == nil; i++ {
			v := g.value(et)
			if i == 0 {
				first = v
			}
		}
		return first
	}
	size, ok := sizes[t]
	if !ok {
		g.fail(fmt.Errorf("unknown metadata type %d", t))
		return nil
	}
	b := g.read(size)
	if b == nil {
		return nil
	}
	switch t {
	case 0:
		return uint64(b[0])
	case 1:
		return int64(int8(b[0]))
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 3:
		return int64(int16(binary.LittleEndian.Uint16(b)))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 5:
		return int64(int32(binary.LittleEndian.Uint32(b)))
	case 6:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case 7:
		return b[0] != 0
	case 10:
		return binary.LittleEndian.Uint64(b)
	case 11:
		return int64(binary.LittleEndian.Uint64(b))
	default:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
}

// tensor reads one tensor info record and adds it to the census.
func (g *ggufReader) tensor(f *GGUFFile) {
	name := g.str()
	nd := g.u32()
	if nd > 8 {
		g.fail(fmt.Errorf("tensor %q has %d dimensions", name, nd))
		return
	}
	elems := 1.0
	for range nd {
		elems *= float64(g.u64())
	}
	typ := g.u32()
	_ = g.u64() // offset
	if g.err != nil {
		return
	}
	tt, ok := ggmlTypes[typ]
	if !ok {
		g.fail(fmt.Errorf("tensor %q has unknown ggml type %d", name, typ))
		return
	}
	b := elems / float64(tt.block) * float64(tt.size)
	f.TypeBytes[tt.name] += b
	f.Params += elems
	f.Bytes += b
	switch {
	case strings.Contains(name, "_exps."):
		f.ExpertParams += elems
	case name == "token_embd.weight" || name == "output.weight":
		f.EmbedParams += elems
	}
}

func (f *GGUFFile) intKey(key string) int {
	switch v := f.Metadata[f.Architecture+"."+key].(type) {
	case uint64:
		return int(v)
	case int64:
		return int(v)
	}
	return 0
}

// Config maps GGUF metadata (llama.cpp's LLM_KV_* keys) onto the
// config.json fields sizing uses.
func (f *GGUFFile) Config() Config {
	c := Config{
		ModelType:             f.Architecture,
		HiddenSize:            f.intKey("embedding_length"),
		IntermediateSize:      f.intKey("feed_forward_length"),
		NumHiddenLayers:       f.intKey("block_count"),
		NumAttentionHeads:     f.intKey("attention.head_count"),
		NumKeyValueHeads:      f.intKey("attention.head_count_kv"),
		HeadDim:               f.intKey("attention.key_length"),
		MaxPositionEmbeddings: f.intKey("context_length"),
		VocabSize:             f.intKey("vocab_size"),
		KVLoRARank:            f.intKey("attention.kv_lora_rank"),
		QLoRARank:             f.intKey("attention.q_lora_rank"),
		NRoutedExperts:        f.intKey("expert_count"),
		NSharedExperts:        f.intKey("expert_shared_count"),
		NumExpertsPerTok:      f.intKey("expert_used_count"),
		MoEIntermediateSize:   f.intKey("expert_feed_forward_length"),
		FirstKDenseReplace:    f.intKey("leading_dense_block_count"),
	}
	if c.KVLoRARank > 0 {
		c.QKRopeHeadDim = f.intKey("rope.dimension_count")
		c.HeadDim = 0
	}
	return c
}

// Model turns the header into a sizing model with exact weight bytes.
func (f *GGUFFile) Model(name string) (Model, error) {
	c := f.Config()
	if c.NumHiddenLayers == 0 || c.NumAttentionHeads == 0 {
		return Model{}, fmt.Errorf("GGUF metadata lacks %s.block_count or %s.attention.head_count", f.Architecture, f.Architecture)
	}
	m := FromConfig(name, c)
	m.Params, m.ActiveParams = f.Params, 0
	m.ExpertParams, m.EmbedParams = f.ExpertParams, f.EmbedParams
	if m.ExpertParams > 0 && c.NRoutedExperts > 0 {
		m.ActiveParams = f.Params - f.ExpertParams*(1-float64(c.NumExpertsPerTok)/float64(c.NRoutedExperts))
	} else {
		m.ActiveParams = f.Params
	}
	m.FixedWeightBytes = f.Bytes
	m.FixedPrecision = "gguf " + dominantType(f.TypeBytes)
	m.NativePrecision = "bf16"
	m.Source = fmt.Sprintf("GGUF v%d header (%s)", f.Version, f.Architecture)
	return m, nil
}

// dominantType names the ggml type holding the most bytes.
func dominantType(bytes map[string]float64) string {
	best, n := "", -1.0
	for t, c := range bytes {
		if c > n || (c == n && t < best) {
			best, n = t, c
		}
	}
	return best
}
