package plan

import (
	"fmt"
	"strings"
)

// GPU is one accelerator type.
type GPU struct {
	Name     string  // short key, e.g. "h100-80"
	Title    string  // marketing name
	MemoryGB float64 // marketed memory in GB (1e9 bytes)
	// NVLink reports whether the usual server form factor connects the
	// GPUs of a node with NVLink/NVSwitch. Tensor parallelism over PCIe
	// works but all-reduce becomes the bottleneck beyond TP=2.
	NVLink bool
	// PerNode is how many of these GPUs a typical server holds.
	PerNode int
	// Arch is the NVIDIA architecture; FP8 tensor cores need Ada or newer,
	// native FP4 needs Blackwell.
	Arch string
}

// GPUs returns the built-in accelerator list, smallest memory first.
// Capacities are the vendors' data-sheet figures.
func GPUs() []GPU {
	return []GPU{
		{Name: "rtx4090", Title: "GeForce RTX 4090 24GB", MemoryGB: 24, PerNode: 8, Arch: "ada"},
		{Name: "l4", Title: "L4 24GB", MemoryGB: 24, PerNode: 8, Arch: "ada"},
		{Name: "a10", Title: "A10 24GB", MemoryGB: 24, PerNode: 8, Arch: "ampere"},
		{Name: "a100-40", Title: "A100 40GB SXM", MemoryGB: 40, NVLink: true, PerNode: 8, Arch: "ampere"},
		{Name: "l40s", Title: "L40S 48GB", MemoryGB: 48, PerNode: 8, Arch: "ada"},
		{Name: "rtx6000-ada", Title: "RTX 6000 Ada 48GB", MemoryGB: 48, PerNode: 8, Arch: "ada"},
		{Name: "a100-80", Title: "A100 80GB SXM", MemoryGB: 80, NVLink: true, PerNode: 8, Arch: "ampere"},
		{Name: "h100-80", Title: "H100 80GB SXM", MemoryGB: 80, NVLink: true, PerNode: 8, Arch: "hopper"},
		{Name: "h20", Title: "H20 96GB", MemoryGB: 96, NVLink: true, PerNode: 8, Arch: "hopper"},
		{Name: "h200", Title: "H200 141GB SXM", MemoryGB: 141, NVLink: true, PerNode: 8, Arch: "hopper"},
		{Name: "b200", Title: "B200 180GB (DGX B200: 1,440 GB / 8)", MemoryGB: 180, NVLink: true, PerNode: 8, Arch: "blackwell"},
	}
}

// LookupGPU finds a GPU by name, case-insensitive.
func LookupGPU(name string) (GPU, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	var names []string
	for _, g := range GPUs() {
		if g.Name == n {
			return g, nil
		}
		names = append(names, g.Name)
	}
	return GPU{}, fmt.Errorf("unknown GPU %q (one of %s)", name, strings.Join(names, ", "))
}
