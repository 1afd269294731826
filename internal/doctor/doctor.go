// Package doctor checks a host before (or while) it serves: that each
// upstream answers HTTP, what balance a DeepSeek account has left, and on
// a GPU host which GPUs share NVLink and whether the chosen
// tensor-parallel group does.
//
// It takes plain inputs — targets to probe, the text of
// `nvidia-smi topo -m`, the TP group — so it can be tested with recorded
// outputs and driven by any caller. It does not import internal/config;
// the CLI turns a config file into Targets. Config validation results can
// be passed in as ready-made Checks (Options.Extra).
package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/upstream"
)

// Status is a check outcome.
type Status string

// Outcomes, from good to bad.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Check is one line of the report.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Target is an upstream to probe.
type Target struct {
	Name string
	URL  string
	// Health marks URL as the upstream's configured health path: the
	// answer is judged as serve's health check judges it (a 2xx is
	// healthy, anything else marks the upstream down), and APIKey is sent
	// as serve sends it. Otherwise any answer shows the upstream reachable.
	Health bool
	APIKey string
}

// BalanceTarget is a DeepSeek account whose balance to read with
// GET /user/balance. The key is sent to URL only and never printed.
type BalanceTarget struct {
	Name   string
	URL    string // server root, e.g. https://api.deepseek.com
	APIKey string
}

// Options are the inputs of Run.
type Options struct {
	Targets []Target
	// Balances are DeepSeek accounts to read the balance of.
	Balances []BalanceTarget
	// Timeout bounds each probe (default 3s).
	Timeout time.Duration
	// Client sends the probes (default: a client with Timeout).
	Client *http.Client
	// Topology is the text of `nvidia-smi topo -m`; empty means no GPU
	// information (NoGPUReason says why).
	Topology    string
	NoGPUReason string
	// TPGroup is the GPU indices of the intended tensor-parallel group.
	TPGroup []int
	// Issuers are trusted external identity providers to check.
	Issuers []IssuerTarget
	// Extra checks computed by the caller (e.g. config validation) lead
	// the report.
	Extra []Check
}

// Report is the doctor's result.
type Report struct {
	Checks   []Check   `json:"checks"`
	Topology *Topology `json:"-"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	return slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Status == Fail })
}

// Warned reports whether any check warned.
func (r Report) Warned() bool {
	return slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Status == Warn })
}

// Run performs every check. Probes run one after another; a host has a
// handful of upstreams and the timeout bounds each.
func Run(ctx context.Context, o Options) Report {
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: o.Timeout}
	}
	r := Report{Checks: slices.Clone(o.Extra)}
	if len(o.Targets) == 0 && len(o.Balances) == 0 && len(o.Extra) == 0 {
		r.Checks = append(r.Checks, Check{Name: "upstreams", Status: Skip, Detail: "no upstreams given (--upstream name=url or --config FILE)"})
	}
	for _, t := range o.Targets {
		r.Checks = append(r.Checks, Probe(ctx, client, o.Timeout, t))
	}
	for _, b := range o.Balances {
		r.Checks = append(r.Checks, CheckBalance(ctx, client, o.Timeout, b))
	}
	for _, is := range o.Issuers {
		r.Checks = append(r.Checks, CheckIssuer(ctx, client, o.Timeout, is)...)
	}
	r.Checks = append(r.Checks, topologyChecks(&r, o)...)
	return r
}

// Probe sends GET to the target's URL and reports whether any HTTP answer
// came back. Any status counts as reachable (a 401 from DeepSeek proves the
// network path and TLS work); 5xx is a warning. No credentials are sent.
func Probe(ctx context.Context, client *http.Client, timeout time.Duration, t Target) Check {
	name := "upstream " + t.Name
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Check{Name: name, Status: Fail, Detail: fmt.Sprintf("invalid URL %q: want http(s)://host[:port]", t.URL)}
	}
	u.User = nil // never send or print userinfo
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Check{Name: name, Status: Fail, Detail: err.Error()}
	}
	if t.Health && t.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+t.APIKey)
	}
	start := time.Now()
	resp, err := client.Do(req)
	elapsed := time.Since(start).Round(time.Millisecond)
	if err != nil {
		return Check{Name: name, Status: Fail, Detail: fmt.Sprintf("%s unreachable: %s", u.Redacted(), probeError(err))}
	}
	resp.Body.Close()
	detail := fmt.Sprintf("%s answered HTTP %d in %s", u.Redacted(), resp.StatusCode, elapsed)
	if t.Health {
		if !upstream.HealthyStatus(resp.StatusCode) {
			return Check{Name: name, Status: Fail, Detail: detail + "; its health check wants a 2xx, so serve marks it down"}
		}
		return Check{Name: name, Status: OK, Detail: detail + " (health check passed)"}
	}
	st := OK
	if resp.StatusCode >= 500 {
		st = Warn
	}
	return Check{Name: name, Status: st, Detail: detail}
}

// CheckBalance reads a DeepSeek account's balance. It fails when DeepSeek
// refuses the key, warns when the balance cannot be read or is not usable
// for API calls (is_available false, or nothing left), and otherwise lists
// the balance per currency.
func CheckBalance(ctx context.Context, client *http.Client, timeout time.Duration, t BalanceTarget) Check {
	name := "balance " + t.Name
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b, err := upstream.FetchBalance(ctx, client, t.URL, t.APIKey)
	if err != nil {
		var be *upstream.BalanceError
		if errors.As(err, &be) && be.Unauthorized() {
			return Check{Name: name, Status: Fail, Detail: "DeepSeek refused the api_key (" + err.Error() + ")"}
		}
		return Check{Name: name, Status: Warn, Detail: "cannot read the balance: " + err.Error()}
	}
	return Check{Name: name, Status: balanceStatus(b), Detail: FormatBalance(b)}
}

func balanceStatus(b upstream.Balance) Status {
	if !b.Available || len(b.Infos) == 0 {
		return Warn
	}
	for _, bi := range b.Infos {
		if bi.Total > 0 {
			return OK
		}
	}
	return Warn
}

// FormatBalance renders a balance as "CNY 110.00 (granted 10.00, topped
// up 100.00)", one part per currency, and says when it is not usable.
func FormatBalance(b upstream.Balance) string {
	parts := make([]string, 0, len(b.Infos)+1)
	for _, bi := range b.Infos {
		parts = append(parts, fmt.Sprintf("%s %.2f (granted %.2f, topped up %.2f)", bi.Currency, bi.Total, bi.Granted, bi.ToppedUp))
	}
	if len(parts) == 0 {
		parts = append(parts, "no balance entries")
	}
	s := strings.Join(parts, "; ")
	if !b.Available {
		s += "; not available for API calls (is_available false): top up the account"
	}
	return s
}

func probeError(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// ErrNoGPU reports a host without nvidia-smi.
var ErrNoGPU = errors.New("nvidia-smi not found: no NVIDIA GPU on this host")

// ReadTopology runs `nvidia-smi topo -m` and returns its output.
func ReadTopology(ctx context.Context) (string, error) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return "", ErrNoGPU
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "topo", "-m").Output()
	if err != nil {
		return "", fmt.Errorf("running nvidia-smi topo -m: %w", err)
	}
	return string(out), nil
}

func topologyChecks(r *Report, o Options) []Check {
	if strings.TrimSpace(o.Topology) == "" {
		reason := o.NoGPUReason
		if reason == "" {
			reason = "no GPU topology given"
		}
		st := Skip
		if len(o.TPGroup) > 0 {
			st = Warn
			reason += fmt.Sprintf("; cannot check TP group %s", formatGPUs(o.TPGroup))
		}
		return []Check{{Name: "gpu topology", Status: st, Detail: reason}}
	}
	t, err := ParseTopology(o.Topology)
	if err != nil {
		return []Check{{Name: "gpu topology", Status: Fail, Detail: fmt.Sprintf("parsing nvidia-smi topo -m: %v", err)}}
	}
	r.Topology = t
	checks := []Check{{Name: "gpu topology", Status: OK, Detail: describeGroups(t)}}
	if len(o.TPGroup) == 0 {
		return checks
	}
	gc := t.CheckGroup(o.TPGroup)
	c := Check{Name: "tp group " + formatGPUs(o.TPGroup)}
	switch {
	case len(gc.Missing) > 0:
		c.Status, c.Detail = Fail, fmt.Sprintf("GPU %s not on this host (have %s)", formatGPUs(gc.Missing), formatGPUs(t.GPUs))
	case len(o.TPGroup) == 1:
		c.Status, c.Detail = OK, "single GPU: no tensor-parallel traffic"
	case gc.AllNVLink:
		c.Status, c.Detail = OK, fmt.Sprintf("every pair shares NVLink (weakest %s between GPU%d and GPU%d)", gc.Weakest, gc.WeakestPair[0], gc.WeakestPair[1])
	default:
		c.Status = Warn
		c.Detail = fmt.Sprintf("GPU%d and GPU%d connect over %s, not NVLink: tensor-parallel all-reduce will run at PCIe speed", gc.WeakestPair[0], gc.WeakestPair[1], gc.Weakest)
		if best := bestGroup(t, len(o.TPGroup)); best != nil {
			c.Detail += fmt.Sprintf("; GPUs %s are fully NVLinked, use CUDA_VISIBLE_DEVICES=%s", formatGPUs(best), formatGPUs(best))
		} else {
			c.Detail += "; no NVLinked group of that size here, prefer pipeline parallelism across the PCIe boundary"
		}
	}
	return append(checks, c)
}

// describeGroups summarises the NVLink islands.
func describeGroups(t *Topology) string {
	groups := t.NVLinkGroups()
	var parts []string
	for _, g := range groups {
		if len(g) == 1 {
			continue
		}
		full := t.CheckGroup(g).AllNVLink
		s := "GPUs " + formatGPUs(g) + " share NVLink"
		if !full {
			s += " (not every pair directly)"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d GPU(s), no NVLink between any pair (PCIe only)", len(t.GPUs))
	}
	return fmt.Sprintf("%d GPU(s); %s", len(t.GPUs), strings.Join(parts, "; "))
}

// bestGroup finds the first n GPUs, in index order, that are pairwise
// NVLinked inside one island; nil if none.
func bestGroup(t *Topology, n int) []int {
	for _, g := range t.NVLinkGroups() {
		if len(g) < n {
			continue
		}
		var pick []int
		for _, x := range g {
			ok := true
			for _, y := range pick {
				if l, _ := t.Link(x, y); !l.NVLink() {
					ok = false
					break
				}
			}
			if ok {
				pick = append(pick, x)
			}
			if len(pick) == n {
				return pick
			}
		}
	}
	return nil
}

func formatGPUs(g []int) string {
	s := make([]string, len(g))
	for i, x := range g {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
