package plan

import (
	"fmt"
	"strings"
)

// GPU is one accelerator type.
type GPU struct {
	Name     string  // short key, e.g. "h100-80"
	Title    string  // marketing name
	MemoryGB float64 // memory per GPU in GB (1e9 bytes), as deployed
	// BandwidthGBs is the memory bandwidth per GPU in GB/s (1e9 bytes/s);
	// decoding one token reads the active weights and the KV cache once,
	// so it bounds single-sequence decode speed.
	BandwidthGBs float64
	// NVLink reports whether the usual server form factor connects the
	// GPUs of a node all-to-all at NVLink-class speed: NVLink/NVSwitch,
	// AMD Infinity Fabric or Huawei HCCS. Tensor parallelism over PCIe
	// works but all-reduce becomes the bottleneck beyond TP=2.
	NVLink bool
	// PerNode is how many of these GPUs a typical server (or GB200 tray)
	// holds.
	PerNode int
	// Arch is the architecture: ampere, ada, hopper, blackwell (NVIDIA;
	// FP8 tensor cores need Ada or newer, native FP4 needs Blackwell),
	// cdna3 (AMD MI300 series: FP8, no FP4), ascend (Huawei: INT8, no FP8).
	Arch string
	// Source says where the memory and bandwidth figures come from.
	Source string
}

const (
	srcNVIDIA = "NVIDIA data sheet"
	srcAMD    = "AMD data sheet"
)

// GPUs returns the built-in accelerator list, smallest memory first.
// Memory is per GPU as deployed: DGX/HGX B200 publish 1,440 GB per 8 GPUs
// (180 GB, not the 192 GB module figure), HGX/DGX B300 2.1 TB per 8 GPUs
// (268 GB), GB200 NVL72 13.4 TB per 72 GPUs (186 GB).
func GPUs() []GPU {
	return []GPU{
		{Name: "rtx4090", Title: "GeForce RTX 4090 24GB", MemoryGB: 24, BandwidthGBs: 1008, PerNode: 8, Arch: "ada", Source: srcNVIDIA},
		{Name: "l4", Title: "L4 24GB", MemoryGB: 24, BandwidthGBs: 300, PerNode: 8, Arch: "ada", Source: srcNVIDIA},
		{Name: "a10", Title: "A10 24GB", MemoryGB: 24, BandwidthGBs: 600, PerNode: 8, Arch: "ampere", Source: srcNVIDIA},
		{Name: "a100-40", Title: "A100 40GB SXM", MemoryGB: 40, BandwidthGBs: 1555, NVLink: true, PerNode: 8, Arch: "ampere", Source: srcNVIDIA},
		{Name: "l40s", Title: "L40S 48GB", MemoryGB: 48, BandwidthGBs: 864, PerNode: 8, Arch: "ada", Source: srcNVIDIA},
		{Name: "rtx6000-ada", Title: "RTX 6000 Ada 48GB", MemoryGB: 48, BandwidthGBs: 960, PerNode: 8, Arch: "ada", Source: srcNVIDIA},
		{Name: "ascend-910b", Title: "Huawei Ascend 910B 64GB HBM2e", MemoryGB: 64, BandwidthGBs: 1600, NVLink: true, PerNode: 8, Arch: "ascend",
			Source: "reported figures (Huawei publishes no bandwidth data sheet); HCCS within an 8-NPU server"},
		{Name: "a100-80", Title: "A100 80GB SXM", MemoryGB: 80, BandwidthGBs: 2039, NVLink: true, PerNode: 8, Arch: "ampere", Source: srcNVIDIA},
		{Name: "h100-80", Title: "H100 80GB SXM", MemoryGB: 80, BandwidthGBs: 3350, NVLink: true, PerNode: 8, Arch: "hopper", Source: srcNVIDIA},
		{Name: "h20", Title: "H20 96GB", MemoryGB: 96, BandwidthGBs: 4000, NVLink: true, PerNode: 8, Arch: "hopper", Source: srcNVIDIA},
		{Name: "ascend-910c", Title: "Huawei Ascend 910C 128GB", MemoryGB: 128, BandwidthGBs: 3200, NVLink: true, PerNode: 8, Arch: "ascend",
			Source: "reported figures (Huawei publishes no bandwidth data sheet); two 910B-class dies per package"},
		{Name: "h200", Title: "H200 141GB SXM", MemoryGB: 141, BandwidthGBs: 4800, NVLink: true, PerNode: 8, Arch: "hopper", Source: srcNVIDIA},
		{Name: "b200", Title: "B200 180GB (DGX B200: 1,440 GB / 8)", MemoryGB: 180, BandwidthGBs: 8000, NVLink: true, PerNode: 8, Arch: "blackwell", Source: srcNVIDIA},
		{Name: "gb200", Title: "GB200 186GB (NVL72: 13.4 TB / 72 GPUs, 4 per tray)", MemoryGB: 186, BandwidthGBs: 8000, NVLink: true, PerNode: 4, Arch: "blackwell",
			Source: srcNVIDIA + " (GB200 NVL72)"},
		{Name: "mi300x", Title: "AMD Instinct MI300X 192GB", MemoryGB: 192, BandwidthGBs: 5300, NVLink: true, PerNode: 8, Arch: "cdna3", Source: srcAMD},
		{Name: "mi325x", Title: "AMD Instinct MI325X 256GB", MemoryGB: 256, BandwidthGBs: 6000, NVLink: true, PerNode: 8, Arch: "cdna3", Source: srcAMD},
		{Name: "b300", Title: "B300 268GB (HGX B300: 2.1 TB / 8)", MemoryGB: 268, BandwidthGBs: 8000, NVLink: true, PerNode: 8, Arch: "blackwell", Source: srcNVIDIA},
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
