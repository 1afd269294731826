package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/plan"
)

// planFlags are the sizing inputs shared by `plan` and `engine command`.
type planFlags struct {
	precision string
	kvDtype   string
	context   int
	sequences int
	gpus      []string
	gpuUtil   float64
	maxGPUs   int
}

func (f *planFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.precision, "precision", "native", "weight precision: native, "+strings.Join(plan.PrecisionNames(), ", ")+" (aliases: int4, awq, gptq, fp4, q4_k)")
	fl.StringVar(&f.kvDtype, "kv-dtype", "auto", "KV-cache element type: auto, bf16, fp16, fp8, fp4 (DeepSeek-V4.1 on Blackwell), fp32")
	fl.IntVar(&f.context, "context", 8192, "tokens per sequence (prompt + output)")
	fl.IntVar(&f.sequences, "sequences", 16, "concurrent sequences")
	fl.StringSliceVar(&f.gpus, "gpu", nil, "GPU types to consider (repeatable or comma-separated; default all)")
	fl.Float64Var(&f.gpuUtil, "gpu-util", plan.DefaultGPUUtil, "fraction of each GPU the engine may use")
	fl.IntVar(&f.maxGPUs, "max-gpus", plan.DefaultMaxGPUs, "largest layout to try")
}

func (f *planFlags) options() (plan.Options, error) {
	o := plan.Options{
		Precision: f.precision, KVDtype: f.kvDtype, ContextLength: f.context,
		Sequences: f.sequences, GPUUtil: f.gpuUtil, MaxGPUs: f.maxGPUs,
	}
	for _, name := range f.gpus {
		g, err := plan.LookupGPU(name)
		if err != nil {
			return plan.Options{}, err
		}
		o.GPUs = append(o.GPUs, g)
	}
	return o, nil
}

// loadModel resolves a catalogue name or a file path.
func loadModel(arg string) (plan.Model, error) {
	if _, err := os.Stat(arg); err == nil {
		return plan.LoadFile(arg)
	} else if !errors.Is(err, os.ErrNotExist) {
		return plan.Model{}, fmt.Errorf("reading %s: %w", arg, err)
	}
	return plan.Lookup(arg)
}

func newPlanCmd() *cobra.Command {
	var (
		pf     planFlags
		format string
		list   bool
	)
	cmd := &cobra.Command{
		Use:   "plan MODEL|PATH",
		Short: "Size GPU memory and parallelism for serving a model",
		Long: `plan estimates the GPU memory a model needs (weights, KV cache, runtime
overhead) for a precision, context length and number of concurrent sequences,
and lists GPU types with the tensor/pipeline-parallel sizes that hold it.

MODEL is a built-in name (see --list) or a path to a config.json, a
model.safetensors.index.json, a .safetensors file (with config.json beside
it), a model directory, or a .gguf file. Formulas: docs/operations.md.`,
		Example: `  dsgate plan r1-distill-qwen-7b --gpu rtx4090,l40s
  dsgate plan deepseek-r1 --context 32768 --sequences 32 --gpu h200,h100-80
  dsgate plan r1-distill-llama-70b --precision awq --format json
  dsgate plan ./models/DeepSeek-V2-Lite-Chat/config.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if list {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if list {
				return writeCatalogue(out)
			}
			m, err := loadModel(args[0])
			if err != nil {
				return err
			}
			o, err := pf.options()
			if err != nil {
				return err
			}
			r, err := plan.Estimate(m, o)
			if err != nil {
				return err
			}
			switch format {
			case "json":
				return plan.WriteJSON(out, r)
			case "table", "":
				return plan.WriteTable(out, r)
			}
			return fmt.Errorf("unknown --format %q (table or json)", format)
		},
	}
	pf.register(cmd)
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().BoolVar(&list, "list", false, "list built-in models and GPUs")
	return cmd
}

func writeCatalogue(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tPARAMS\tACTIVE\tATTENTION\tNATIVE\tFAMILY\tHUGGING FACE")
	for _, m := range plan.Catalogue() {
		name := m.Name
		if m.Estimate {
			name += " (estimate)"
		}
		fmt.Fprintf(tw, "%s\t%.1fB\t%.1fB\t%s\t%s\t%s\t%s\n", name, m.Params/1e9, m.ActiveParams/1e9, m.Attention(), m.NativePrecision, m.Family, m.HFRepo)
	}
	fmt.Fprintln(tw, "\nGPU\tMEMORY\tBANDWIDTH\tFAST LINK\tARCH\tSOURCE")
	for _, g := range plan.GPUs() {
		fmt.Fprintf(tw, "%s\t%.0f GB\t%.2f TB/s\t%v\t%s\t%s\n", g.Name, g.MemoryGB, g.BandwidthGBs/1000, g.NVLink, g.Arch, g.Source)
	}
	return tw.Flush()
}
