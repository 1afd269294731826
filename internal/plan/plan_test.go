package plan

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*math.Abs(want) {
		t.Errorf("%s = %.6g, want %.6g (±%.1f%%)", what, got, want, tol*100)
	}
}

func mustLookup(t *testing.T, name string) Model {
	t.Helper()
	m, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The architecture formulas must reproduce the published parameter counts.
func TestCatalogueParamsMatchPublished(t *testing.T) {
	t.Parallel()
	published := map[string]struct{ total, active float64 }{
		"deepseek-v3":            {671e9, 37e9},
		"deepseek-v3.2":          {671e9, 37e9},
		"deepseek-v2":            {236e9, 21e9},
		"deepseek-r1":            {671e9, 37e9},
		"deepseek-v2-lite":       {15.7e9, 2.4e9},
		"deepseek-coder-v2":      {236e9, 21e9},
		"deepseek-coder-v2-lite": {15.7e9, 2.4e9},
		"deepseek-v4-flash":      {284e9, 13e9},
		"deepseek-v4-pro":        {1.6e12, 49e9},
		"r1-distill-qwen-1.5b":   {1.78e9, 0},
		"r1-distill-qwen-7b":     {7.62e9, 0},
		"r1-distill-qwen-14b":    {14.8e9, 0},
		"r1-distill-qwen-32b":    {32.8e9, 0},
		"r1-distill-llama-8b":    {8.03e9, 0},
		"r1-distill-llama-70b":   {70.6e9, 0},
	}
	if len(published)+1 != len(catalogue()) { // + deepseek-v4.1-flash, checked in TestV41FlashPublishedSizes
		t.Fatalf("catalogue has %d models, test knows %d", len(catalogue()), len(published)+1)
	}
	for _, e := range catalogue() {
		if e.fixed != nil {
			continue // sizes are the published checkpoint's, not a census
		}
		want, ok := published[e.name]
		if !ok {
			t.Errorf("no published figure for %s", e.name)
			continue
		}
		tol := 0.02
		if strings.HasPrefix(e.name, "deepseek-v4") {
			tol = 0.03 // compressor and hyper-connection weights are not counted
		}
		c := countParams(e.cfg)
		near(t, e.name+" total", c.Total, want.total, tol)
		// Active counts: the model cards round and some exclude embeddings.
		if want.active > 0 {
			near(t, e.name+" active", c.Active, want.active, 0.12)
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"deepseek-v3", "DeepSeek-R1-Distill-Qwen-7B", "deepseek-ai/DeepSeek-V2-Lite-Chat"} {
		if _, err := Lookup(n); err != nil {
			t.Errorf("Lookup(%q): %v", n, err)
		}
	}
	if _, err := Lookup("gpt-5"); err == nil || !strings.Contains(err.Error(), "deepseek-v3") {
		t.Errorf("unknown model error should list the catalogue, got %v", err)
	}
}

func TestWeightBytesKnownSizes(t *testing.T) {
	t.Parallel()
	dense := func(params float64) Model { return Model{Params: params} }
	tests := []struct {
		name      string
		model     Model
		precision string
		wantGB    float64
		tol       float64
	}{
		// The arithmetic the seed brief got wrong: 13B x 2 bytes = 26 GB, not 52.
		{"7B fp16", dense(7e9), "fp16", 14, 0.001},
		{"13B fp16", dense(13e9), "fp16", 26, 0.001},
		{"13B fp32", dense(13e9), "fp32", 52, 0.001},
		{"13B int4 gptq", dense(13e9), "gptq", 13 * (4 + 20.0/128) / 8, 0.001},
		{"7B int8", dense(7e9), "int8", 7, 0.001},
		{"r1-distill-qwen-7b bf16", mustLookup(t, "r1-distill-qwen-7b"), "bf16", 15.23, 0.005},
		{"r1-distill-qwen-7b native", mustLookup(t, "r1-distill-qwen-7b"), "native", 15.23, 0.005},
		// Llama 3.1 8B at Q4_K_M: llama.cpp reports 4.58 GiB = 4.918 GB.
		{"r1-distill-llama-8b q4_k_m", mustLookup(t, "r1-distill-llama-8b"), "q4_k_m", 4.918, 0.005},
		{"r1-distill-llama-70b bf16", mustLookup(t, "r1-distill-llama-70b"), "bf16", 141.2, 0.005},
		// AWQ keeps embed + lm_head (2.1B) at 16 bits: 68.5B x 4.156/8 + 2.1B x 2.
		{"r1-distill-llama-70b awq", mustLookup(t, "r1-distill-llama-70b"), "awq", 40.1, 0.01},
		// V3 ships FP8 with BF16 embeddings: (671 - 1.85) x 1 + 1.85 x 2 GB.
		{"deepseek-v3 native fp8", mustLookup(t, "deepseek-v3"), "native", 672.9, 0.005},
		{"deepseek-v3 bf16", mustLookup(t, "deepseek-v3"), "bf16", 1342, 0.001},
		// V4-Flash: 277B expert weights in MXFP4 (4.25 bits) + the rest FP8.
		{"deepseek-v4-flash native", mustLookup(t, "deepseek-v4-flash"), "native", 155.2, 0.01},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.model.NativePrecision = firstNonEmpty(tt.model.NativePrecision, "bf16")
			p, err := resolvePrecision(tt.model, tt.precision)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "weights GB", p.WeightBytes(tt.model)/1e9, tt.wantGB, tt.tol)
		})
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestKVBytesPerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		model string
		want  float64 // bytes per token at 2 bytes per element
	}{
		{"deepseek-v3", 61 * (512 + 64) * 2},      // MLA: 70,272
		{"deepseek-v2-lite", 27 * (512 + 64) * 2}, // MLA: 31,104
		{"r1-distill-qwen-7b", 2 * 28 * 4 * 128 * 2},
		{"r1-distill-qwen-1.5b", 2 * 28 * 2 * 128 * 2},
		{"r1-distill-llama-8b", 2 * 32 * 8 * 128 * 2},
		{"r1-distill-llama-70b", 2 * 80 * 8 * 128 * 2},
	}
	for _, tt := range tests {
		m := mustLookup(t, tt.model)
		got := m.KVBytesPerSequence(1000, 2) / 1000
		if got != tt.want {
			t.Errorf("%s: %v bytes/token, want %v", tt.model, got, tt.want)
		}
	}
	// V4-Flash at 1M tokens: 41 compressed layers; 21 at ratio 4 with an
	// indexer, 20 at ratio 128, plus a 128-token window on all 43 layers.
	m := mustLookup(t, "deepseek-v4-flash")
	ctx := 1 << 20
	want := (43*128*512 + 21*(float64(ctx)/4)*(512+128) + 20*(float64(ctx)/128)*512) * 2
	near(t, "v4-flash KV at 1M", m.KVBytesPerSequence(ctx, 2), want, 1e-9)
	v3 := mustLookup(t, "deepseek-v3")
	if r := m.KVBytesPerSequence(ctx, 2) / v3.KVBytesPerSequence(ctx, 2); r > 0.15 {
		t.Errorf("V4-Flash KV should be a small fraction of V3's at 1M tokens, got %.2f", r)
	}
}

func TestEstimateLayouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		model, precision, gpu string
		ctx, seqs             int
		tp, pp                int
	}{
		{"r1-distill-qwen-7b", "bf16", "rtx4090", 4096, 1, 1, 1},
		{"r1-distill-qwen-7b", "bf16", "a100-80", 8192, 32, 1, 1},
		{"r1-distill-qwen-32b", "bf16", "a100-80", 8192, 8, 2, 1}, // 65.5 GB weights + 17.2 GB KV
		{"r1-distill-qwen-32b", "bf16", "rtx4090", 8192, 8, 8, 1},
		{"r1-distill-qwen-32b", "awq", "rtx4090", 8192, 2, 2, 1}, // 19.3 GB of AWQ weights leave no room on one 24 GB card
		{"r1-distill-llama-70b", "bf16", "a100-80", 8192, 8, 4, 1},
		{"r1-distill-llama-70b", "awq", "a100-80", 8192, 8, 1, 1},
		{"deepseek-r1", "native", "h200", 16384, 16, 8, 1},
		// MLA KV is replicated on every TP rank: 16 x 32k tokens x 70 KB = 37 GB per GPU no longer fits next to 84 GB of weights.
		{"deepseek-r1", "native", "h200", 32768, 16, 8, 2},
		{"deepseek-r1", "native", "h100-80", 32768, 16, 8, 2},
		{"deepseek-r1", "bf16", "a100-80", 8192, 8, 8, 3},
		{"deepseek-v2-lite", "bf16", "l40s", 8192, 8, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.model+"/"+tt.precision+"/"+tt.gpu, func(t *testing.T) {
			t.Parallel()
			g, err := LookupGPU(tt.gpu)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Estimate(mustLookup(t, tt.model), Options{Precision: tt.precision, ContextLength: tt.ctx, Sequences: tt.seqs, GPUs: []GPU{g}})
			if err != nil {
				t.Fatal(err)
			}
			l := r.Options[0]
			if !l.Fits || l.TP != tt.tp || l.PP != tt.pp {
				t.Errorf("layout = TP%d PP%d fits=%v (%.1f GB/GPU), want TP%d PP%d", l.TP, l.PP, l.Fits, l.PerGPUBytes/1e9, tt.tp, tt.pp)
			}
			if l.MaxSequences < tt.seqs {
				t.Errorf("max sequences %d < requested %d on a fitting layout", l.MaxSequences, tt.seqs)
			}
		})
	}
}

// Qwen 1.5B has 12 heads and 2 KV heads: TP 8 is invalid in vLLM.
func TestValidTP(t *testing.T) {
	t.Parallel()
	m := mustLookup(t, "r1-distill-qwen-1.5b")
	for tp, want := range map[int]bool{1: true, 2: true, 4: true, 8: false} {
		if got := validTP(m, tp); got != want {
			t.Errorf("validTP(tp=%d) = %v, want %v", tp, got, want)
		}
	}
}

func TestEstimateErrorsAndNotes(t *testing.T) {
	t.Parallel()
	m := mustLookup(t, "deepseek-v4-pro")
	if m.Estimate || len(m.Assumptions) > 0 {
		t.Errorf("V4-Pro's config.json is public: no estimate expected, got %v", m.Assumptions)
	}
	if _, err := Estimate(m, Options{ContextLength: 0, Sequences: 1}); err == nil {
		t.Error("zero context accepted")
	}
	if _, err := Estimate(m, Options{ContextLength: 10, Sequences: 1, Precision: "fp7"}); err == nil {
		t.Error("unknown precision accepted")
	}
	if _, err := Estimate(m, Options{ContextLength: 10, Sequences: 1, KVDtype: "int3"}); err == nil {
		t.Error("unknown KV dtype accepted")
	}
	r, err := Estimate(m, Options{ContextLength: 2 << 20, Sequences: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.ContextWarning == "" {
		t.Errorf("V4-Pro beyond 1M context: no warning")
	}
	// A model with assumed numbers (e.g. read from a partial file) is flagged.
	est := m
	est.Estimate, est.Assumptions = true, []string{"layer pattern assumed"}
	r, err = Estimate(est, Options{ContextLength: 2 << 20, Sequences: 1})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := WriteTable(&table, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "ESTIMATE:") {
		t.Errorf("table does not flag the estimate:\n%s", table.String())
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || !back.Estimate || len(back.Options) != len(GPUs()) {
		t.Errorf("JSON round trip: err=%v estimate=%v options=%d", err, back.Estimate, len(back.Options))
	}
}

func TestLoadConfigJSONMatchesCatalogue(t *testing.T) {
	t.Parallel()
	for dir, name := range map[string]string{"r1-distill-qwen-7b": "r1-distill-qwen-7b", "deepseek-v2-lite-chat": "deepseek-v2-lite"} {
		m, err := LoadFile(filepath.Join("testdata", dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		cat := mustLookup(t, name)
		near(t, dir+" params", m.Params, countParams(cat.Config).Total, 1e-9)
		if m.Attention() != cat.Attention() {
			t.Errorf("%s attention %v, want %v", dir, m.Attention(), cat.Attention())
		}
		if got, want := m.KVBytesPerSequence(100, 2), cat.KVBytesPerSequence(100, 2); got != want {
			t.Errorf("%s KV %v, want %v", dir, got, want)
		}
	}
}

func TestLoadSafetensorsIndexAndDir(t *testing.T) {
	t.Parallel()
	for _, p := range []string{
		filepath.Join("testdata", "r1-distill-qwen-7b", "model.safetensors.index.json"),
		filepath.Join("testdata", "r1-distill-qwen-7b"),
	} {
		m, err := LoadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if m.FixedWeightBytes != 15231233024 {
			t.Errorf("%s: weight bytes %v", p, m.FixedWeightBytes)
		}
		r, err := Estimate(m, Options{ContextLength: 4096, Sequences: 1})
		if err != nil {
			t.Fatal(err)
		}
		if r.WeightBytes != 15231233024 {
			t.Errorf("%s: estimate ignored exact weight bytes: %v", p, r.WeightBytes)
		}
	}
	if _, err := LoadFile(filepath.Join("testdata", "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}
