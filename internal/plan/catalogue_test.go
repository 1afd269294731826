package plan

import (
	"math"
	"testing"
)

// DeepSeek-V3.2 caches the DSA indexer key next to the MLA latent:
// 61 x (512 + 64 + 128) x 2 bytes per token in bf16.
func TestV32KVAddsIndexer(t *testing.T) {
	t.Parallel()
	m := mustLookup(t, "deepseek-v3.2")
	if got := m.KVBytesPerSequence(1000, 2) / 1000; got != 61*(512+64+128)*2 {
		t.Errorf("V3.2 KV = %v B/token, want 85888", got)
	}
	if m.Attention() != AttentionMLA || m.Family != "v3.2" || m.NativePrecision != "fp8" {
		t.Errorf("V3.2: attention %v family %q native %q", m.Attention(), m.Family, m.NativePrecision)
	}
	// Weights are V3's: FP8 with BF16 embeddings.
	p, _ := resolvePrecision(m, "native")
	near(t, "V3.2 native weights GB", p.WeightBytes(m)/1e9, 672.9, 0.005)
}

// DeepSeek-V4-Pro's compress_ratios start [128, 128, 4, 128, ...]: 31
// ratio-128 layers and 30 ratio-4 layers, each with a 128-token window.
func TestV4ProKVFromCompressRatios(t *testing.T) {
	t.Parallel()
	m := mustLookup(t, "deepseek-v4-pro")
	r := m.Config.CompressRatios
	if len(r) != 61 || r[0] != 128 || r[1] != 128 || r[2] != 4 || r[3] != 128 || r[60] != 4 {
		t.Fatalf("V4-Pro compress ratios %v", r)
	}
	ctx := 1 << 20
	t4, t128 := float64(ctx)/4, float64(ctx)/128
	want := (61*128*512 + 30*t4*(512+128) + 31*t128*512) * 2
	near(t, "V4-Pro KV at 1M", m.KVBytesPerSequence(ctx, 2), want, 1e-12)
	fl := mustLookup(t, "deepseek-v4-flash")
	if fr := fl.Config.CompressRatios; fr[0] != 0 || fr[1] != 0 || fr[2] != 4 || fr[3] != 128 {
		t.Errorf("V4-Flash compress ratios %v", fr[:4])
	}
	for _, name := range []string{"deepseek-v4-pro", "deepseek-v4-flash", "deepseek-v4.1-flash", "deepseek-v3.2", "deepseek-v2"} {
		if mm := mustLookup(t, name); mm.Estimate {
			t.Errorf("%s is marked estimate although its config.json is public", name)
		}
	}
}

// DeepSeek-V4.1-Flash: weights are the checkpoint's 510.31 GB; the KV
// cache is the model card's 890 B/token at FP4, 3,560 B/token in bf16.
func TestV41FlashPublishedSizes(t *testing.T) {
	t.Parallel()
	m := mustLookup(t, "deepseek-v4.1-flash")
	c := m.Config
	if c.NumHiddenLayers != 40 || c.HiddenSize != 5120 || c.NumAttentionHeads != 64 || c.HeadDim != 512 ||
		c.QLoRARank != 1280 || c.NRoutedExperts != 384 || c.NumExpertsPerTok != 6 || c.MoEIntermediateSize != 2304 {
		t.Errorf("V4.1-Flash config %+v", c)
	}
	r, err := Estimate(m, Options{ContextLength: 32768, Sequences: 16, KVDtype: "fp4"})
	if err != nil {
		t.Fatal(err)
	}
	if r.WeightBytes != 510.31e9 || r.KVBytesPerSeq != 890*32768 {
		t.Errorf("weights %v, KV/seq %v", r.WeightBytes, r.KVBytesPerSeq)
	}
	if got := m.KVBytesPerSequence(1000, 2) / 1000; got != 3560 {
		t.Errorf("bf16 KV %v B/token, want 3560", got)
	}
}

// Layouts on the new accelerators, checked by hand:
//
//	V4.1-Flash on B200 (0.9 x 180 = 162 GB usable): TP2 puts 255 GB of
//	weights on a GPU; TP4 needs 127.6 + 0.47 (KV) + 2 + 5% = 136.4 GB.
//	V4.1-Flash on H200 (126.9 GB usable): TP4 needs 136.4 GB; TP8 69.4 GB.
//	V4-Flash (155.2 GB) on H200: TP2 needs 77.6 + 2 + 5% plus its KV.
//	V4-Pro (876.5 GB) on B300 (241.2 GB usable): TP4 is 219.1 GB of weights
//	+ 2 + 5%; 8 sequences of 64k (0.65 GB each in bf16) fit, 16 do not.
//	V3.2 (672.9 GB) on MI325X (230.4 GB usable): TP4 needs 168 GB + KV.
//	V3.2 on Ascend 910B (57.6 GB usable): 672.9 / 16 = 42 GB at TP8 x PP2.
func TestLayoutsOnNewAccelerators(t *testing.T) {
	t.Parallel()
	tests := []struct {
		model, gpu, kv string
		ctx, seqs      int
		tp, pp         int
	}{
		{"deepseek-v4.1-flash", "b200", "fp4", 32768, 16, 4, 1},
		{"deepseek-v4.1-flash", "h200", "fp4", 32768, 16, 8, 1},
		{"deepseek-v4.1-flash", "b300", "fp4", 32768, 16, 4, 1},
		{"deepseek-v4-flash", "h200", "auto", 65536, 16, 2, 1},
		{"deepseek-v4-pro", "b300", "auto", 65536, 8, 4, 1},
		{"deepseek-v4-pro", "b300", "auto", 65536, 16, 8, 1},
		{"deepseek-v3.2", "mi325x", "auto", 16384, 16, 4, 1},
		{"deepseek-v3.2", "ascend-910b", "auto", 8192, 8, 8, 2},
		{"deepseek-v2", "h20", "auto", 8192, 16, 8, 1},
	}
	for _, tt := range tests {
		t.Run(tt.model+"/"+tt.gpu, func(t *testing.T) {
			t.Parallel()
			g, err := LookupGPU(tt.gpu)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Estimate(mustLookup(t, tt.model), Options{ContextLength: tt.ctx, Sequences: tt.seqs, KVDtype: tt.kv, GPUs: []GPU{g}})
			if err != nil {
				t.Fatal(err)
			}
			l := r.Options[0]
			if !l.Fits || l.TP != tt.tp || l.PP != tt.pp {
				t.Errorf("layout TP%d PP%d fits=%v (%.1f GB/GPU of %.1f usable), want TP%d PP%d",
					l.TP, l.PP, l.Fits, l.PerGPUBytes/1e9, l.UsableBytes/1e9, tt.tp, tt.pp)
			}
		})
	}
}

func TestGPUFigures(t *testing.T) {
	t.Parallel()
	want := map[string][2]float64{ // memory GB, bandwidth GB/s
		"h20": {96, 4000}, "h200": {141, 4800}, "b200": {180, 8000}, "b300": {268, 8000}, "gb200": {186, 8000},
		"mi300x": {192, 5300}, "mi325x": {256, 6000}, "ascend-910b": {64, 1600}, "ascend-910c": {128, 3200},
		"h100-80": {80, 3350},
	}
	for name, w := range want {
		g, err := LookupGPU(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if g.MemoryGB != w[0] || g.BandwidthGBs != w[1] || g.Source == "" {
			t.Errorf("%s: %v GB %v GB/s source %q, want %v GB %v GB/s", name, g.MemoryGB, g.BandwidthGBs, g.Source, w[0], w[1])
		}
	}
	prev := 0.0
	for _, g := range GPUs() {
		if g.MemoryGB < prev || g.BandwidthGBs <= 0 || math.IsNaN(g.BandwidthGBs) {
			t.Errorf("%s out of order or without bandwidth", g.Name)
		}
		prev = g.MemoryGB
	}
}
