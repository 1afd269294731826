package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes a Result as indented JSON.
func WriteJSON(w io.Writer, r Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encoding plan: %w", err)
	}
	return nil
}

func gb(b float64) string { return fmt.Sprintf("%.2f", b/1e9) }

func billions(p float64) string {
	if p >= 1e12 {
		return fmt.Sprintf("%.2fT", p/1e12)
	}
	return fmt.Sprintf("%.2fB", p/1e9)
}

// kvFormula describes the KV formula used for a model, for the table footer.
func kvFormula(m Attention) string {
	switch m {
	case AttentionMLA:
		return "layers x (kv_lora_rank + qk_rope_head_dim [+ index_head_dim]) x bytes x tokens x seqs"
	case AttentionCompressed:
		return "per layer: (window + ctx/ratio) x head_dim (+ ctx/4 x index_head_dim on CSA layers) x bytes x seqs"
	default:
		return "2 x layers x kv_heads x head_dim x bytes x tokens x seqs"
	}
}

// WriteTable writes a Result as a human-readable report.
func WriteTable(w io.Writer, r Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Model       %s", r.Title)
	if r.HFRepo != "" {
		fmt.Fprintf(&b, " (%s)", r.HFRepo)
	}
	fmt.Fprintf(&b, "\nParameters  %s total", billions(r.Params))
	if r.ActiveParams > 0 && r.ActiveParams < r.Params {
		fmt.Fprintf(&b, ", %s active per token", billions(r.ActiveParams))
	}
	fmt.Fprintf(&b, "\nAttention   %s\n", r.Attention)
	fmt.Fprintf(&b, "Precision   %s (%.3g bits/weight: %s)\n", r.Precision, r.BitsPerWeight, r.PrecisionNote)
	fmt.Fprintf(&b, "Workload    %d tokens x %d sequences, KV cache %s\n", r.ContextLength, r.Sequences, r.KVDtype)
	if r.ContextWarning != "" {
		fmt.Fprintf(&b, "WARNING     %s\n", r.ContextWarning)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "memory\tGB\t\n")
	fmt.Fprintf(tw, "weights\t%s\t  params x bits / 8\n", gb(r.WeightBytes))
	perTok := r.KVBytesPerSeq / float64(r.ContextLength)
	formula := kvFormula(attentionFromString(r.Attention))
	if r.KVPublished {
		formula = "published bytes per token x element size / published element size x tokens x seqs"
	}
	fmt.Fprintf(tw, "KV cache\t%s\t  %s (%.0f B/token avg)\n", gb(r.KVBytes), formula, perTok)
	fmt.Fprintf(tw, "overhead\t%s\t  2 GB + 5%% of (weights + KV), per GPU\n", gb(r.OverheadBytes))
	fmt.Fprintf(tw, "total (1 GPU)\t%s\t\n", gb(r.TotalBytes))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nGPU options: smallest layout that fits in %.0f%% of each GPU\n", r.GPUUtil*100)
	tw = tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GPU\tMEM GB\tTP\tPP\tGPUS\tNODES\tPER-GPU GB\tFITS\tMAX SEQS\tNOTES")
	for _, o := range r.Options {
		fits := "yes"
		if !o.Fits {
			fits = "no"
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%d\t%d\t%d\t%s\t%s\t%d\t%s\n", o.GPU, o.MemoryGB, o.TP, o.PP, o.GPUs, o.Nodes,
			gb(o.PerGPUBytes), fits, o.MaxSequences, strings.Join(o.Notes, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\nnote: %s", n)
	}
	for _, a := range r.Assumptions {
		fmt.Fprintf(&b, "\nESTIMATE: %s", a)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func attentionFromString(s string) Attention {
	for _, a := range []Attention{AttentionGQA, AttentionMLA, AttentionCompressed} {
		if a.String() == s {
			return a
		}
	}
	return AttentionGQA
}
