package doctor

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Link is the connection between two devices in `nvidia-smi topo -m`.
type Link struct {
	// Kind is the legend code: "X" (self), "NV" (NVLink), "PIX", "PXB",
	// "PHB", "NODE", "SYS".
	Kind string
	// NVLinks is the number of bonded NVLinks for Kind "NV" (the # in NV#).
	NVLinks int
}

func (l Link) String() string {
	if l.Kind == "NV" {
		return "NV" + strconv.Itoa(l.NVLinks)
	}
	return l.Kind
}

// NVLink reports whether the link is NVLink.
func (l Link) NVLink() bool { return l.Kind == "NV" }

// rank orders links from best to worst for "weakest link" reports.
func (l Link) rank() int {
	switch l.Kind {
	case "NV":
		return 0
	case "PIX":
		return 1
	case "PXB":
		return 2
	case "PHB":
		return 3
	case "NODE":
		return 4
	default:
		return 5
	}
}

// Topology is the GPU-to-GPU part of `nvidia-smi topo -m`.
type Topology struct {
	GPUs  []int    // GPU indices in matrix order
	Links [][]Link // Links[i][j] between GPUs[i] and GPUs[j]
}

// ErrNoMatrix reports text without a GPU matrix.
var ErrNoMatrix = errors.New("no GPU topology matrix found")

var (
	ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	gpuName    = regexp.MustCompile(`^GPU(\d+)$`)
	linkCode   = regexp.MustCompile(`^(X|NV(\d+)|PIX|PXB|PHB|NODE|SYS|SOC)$`)
)

// ParseTopology reads the matrix printed by `nvidia-smi topo -m`. The
// header row lists devices (GPU0..., NIC0..., mlx5_0...) followed by
// affinity columns; each GPU row starts with its name and has one legend
// code per device column. Cells are tab-separated in real output; runs of
// spaces (copied from a terminal) are accepted too. ANSI colour codes,
// NIC rows and the legend are ignored.
func ParseTopology(text string) (*Topology, error) {
	lines := strings.Split(ansiEscape.ReplaceAllString(strings.ReplaceAll(text, "\r", ""), ""), "\n")
	hdr := -1
	var cols []string
	for i, ln := range lines {
		// The header starts with a device name followed by another column
		// name; a GPU row starts with a device name followed by a link code.
		f := strings.Fields(ln)
		if len(f) > 1 && gpuName.MatchString(f[0]) && !linkCode.MatchString(f[1]) {
			hdr, cols = i, deviceColumns(f)
			break
		}
	}
	if hdr < 0 || len(cols) == 0 {
		return nil, ErrNoMatrix
	}
	t := &Topology{}
	colGPU := map[int]int{} // column index -> GPU index
	for ci, c := range cols {
		if m := gpuName.FindStringSubmatch(c); m != nil {
			n, _ := strconv.Atoi(m[1])
			colGPU[ci] = n
			t.GPUs = append(t.GPUs, n)
		}
	}
	rows := map[int][]Link{}
	for _, ln := range lines[hdr+1:] {
		f := strings.Fields(ln)
		if len(f) == 0 {
			continue
		}
		m := gpuName.FindStringSubmatch(f[0])
		if m == nil {
			if strings.HasPrefix(strings.TrimSpace(ln), "Legend") {
				break
			}
			continue
		}
		if len(f) < 1+len(cols) {
			return nil, fmt.Errorf("row %s has %d cells, want %d", f[0], len(f)-1, len(cols))
		}
		n, _ := strconv.Atoi(m[1])
		var links []Link
		for ci := range cols {
			if _, ok := colGPU[ci]; !ok {
				continue
			}
			l, err := parseLink(f[1+ci])
			if err != nil {
				return nil, fmt.Errorf("row %s column %s: %w", f[0], cols[ci], err)
			}
			links = append(links, l)
		}
		rows[n] = links
	}
	for _, g := range t.GPUs {
		r, ok := rows[g]
		if !ok {
			return nil, fmt.Errorf("matrix has a GPU%d column but no GPU%d row", g, g)
		}
		t.Links = append(t.Links, r)
	}
	return t, nil
}

// deviceColumns keeps header fields up to the first affinity column.
func deviceColumns(f []string) []string {
	var cols []string
	for _, c := range f {
		if c == "CPU" || c == "NUMA" || c == "GPU" || strings.Contains(c, "Affinity") {
			break
		}
		cols = append(cols, c)
	}
	return cols
}

func parseLink(s string) (Link, error) {
	m := linkCode.FindStringSubmatch(s)
	if m == nil {
		return Link{}, fmt.Errorf("unknown link code %q", s)
	}
	if m[2] != "" {
		n, _ := strconv.Atoi(m[2])
		return Link{Kind: "NV", NVLinks: n}, nil
	}
	if s == "SOC" { // older drivers' name for SYS
		s = "SYS"
	}
	return Link{Kind: s}, nil
}

func (t *Topology) index(gpu int) int { return slices.Index(t.GPUs, gpu) }

// Link returns the connection between two GPUs by index.
func (t *Topology) Link(a, b int) (Link, bool) {
	i, j := t.index(a), t.index(b)
	if i < 0 || j < 0 {
		return Link{}, false
	}
	return t.Links[i][j], true
}

// NVLinkGroups returns the sets of GPUs connected by NVLink (connected
// components of the NVLink graph), largest first. A GPU with no NVLink is a
// group of one.
func (t *Topology) NVLinkGroups() [][]int {
	seen := map[int]bool{}
	var groups [][]int
	for _, g := range t.GPUs {
		if seen[g] {
			continue
		}
		var comp []int
		stack := []int{g}
		seen[g] = true
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, x)
			for _, y := range t.GPUs {
				if l, _ := t.Link(x, y); !seen[y] && l.NVLink() {
					seen[y] = true
					stack = append(stack, y)
				}
			}
		}
		slices.Sort(comp)
		groups = append(groups, comp)
	}
	slices.SortStableFunc(groups, func(a, b []int) int { return len(b) - len(a) })
	return groups
}

// GroupCheck is the verdict on a tensor-parallel group.
type GroupCheck struct {
	GPUs []int
	// AllNVLink is true when every pair in the group is directly NVLinked.
	AllNVLink bool
	// Weakest is the slowest pairwise link and the pair that has it.
	Weakest     Link
	WeakestPair [2]int
	// Missing lists GPUs in the group that the topology does not know.
	Missing []int
}

// CheckGroup checks that every pair of GPUs in a TP group shares NVLink:
// tensor parallelism all-reduces activations between every pair of ranks
// in every layer, so one PCIe hop paces the whole group.
func (t *Topology) CheckGroup(gpus []int) GroupCheck {
	gc := GroupCheck{GPUs: gpus, AllNVLink: true, Weakest: Link{Kind: "X"}}
	for _, g := range gpus {
		if t.index(g) < 0 {
			gc.Missing = append(gc.Missing, g)
		}
	}
	if len(gc.Missing) > 0 {
		gc.AllNVLink = false
		return gc
	}
	for i, a := range gpus {
		for _, b := range gpus[i+1:] {
			l, _ := t.Link(a, b)
			if !l.NVLink() {
				gc.AllNVLink = false
			}
			if l.rank() > gc.Weakest.rank() || gc.Weakest.Kind == "X" ||
				(l.NVLink() && gc.Weakest.NVLink() && l.NVLinks < gc.Weakest.NVLinks) {
				gc.Weakest, gc.WeakestPair = l, [2]int{a, b}
			}
		}
	}
	return gc
}
