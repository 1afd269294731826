package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dsgate/dsgate/internal/auth/federation"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/doctor"
)

func newDoctorCmd() *cobra.Command {
	var (
		upstreams []string
		cfgPath   string
		topoFile  string
		tpGPUs    string
		timeout   time.Duration
		format    string
		failOn    string
		skipGPU   bool
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check upstream reachability, DeepSeek balance and GPU NVLink topology",
		Long: `doctor probes each --upstream with an HTTP GET (any answer counts as
reachable; no credentials are sent). With --config it also reads the
balance of every enabled deepseek upstream (GET /user/balance with that
upstream's key; the key is never printed). On a GPU host it parses
` + "`nvidia-smi topo -m`" + ` to report which GPUs share NVLink and whether the
tensor-parallel group in --tp-gpus does. It exits 1 when a check fails
(or, with --fail-on warn, also when one warns: a container health check
uses that to treat a 5xx from /healthz as unhealthy).`,
		Example: `  dsgate doctor --upstream vllm=http://127.0.0.1:8000/v1/models --tp-gpus 0,1,2,3
  dsgate doctor --topo-file topo.txt --tp-gpus 0,1
  dsgate doctor --skip-gpu --fail-on warn --upstream self=http://127.0.0.1:8080/healthz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := doctor.Options{Timeout: timeout}
			if cfgPath != "" {
				o.Extra, o.Targets, o.Balances = configChecks(cfgPath)
				o.Issuers = issuerTargets(cfgPath)
			}
			for _, u := range upstreams {
				name, url, ok := strings.Cut(u, "=")
				if !ok || name == "" || url == "" {
					return fmt.Errorf("--upstream %q: want name=url", u)
				}
				o.Targets = append(o.Targets, doctor.Target{Name: name, URL: url})
			}
			group, err := parseGPUList(tpGPUs)
			if err != nil {
				return err
			}
			o.TPGroup = group
			if failOn != "fail" && failOn != "warn" {
				return fmt.Errorf("--fail-on must be fail or warn, not %q", failOn)
			}
			switch {
			case skipGPU:
				o.NoGPUReason = "GPU checks skipped (--skip-gpu)"
			case topoFile != "":
				b, err := os.ReadFile(topoFile)
				if err != nil {
					return fmt.Errorf("reading topology: %w", err)
				}
				o.Topology = string(b)
			default:
				o.Topology, err = doctor.ReadTopology(cmd.Context())
				if err != nil {
					o.NoGPUReason = err.Error()
					if errors.Is(err, doctor.ErrNoGPU) {
						o.NoGPUReason = "no GPU found (nvidia-smi not on PATH)"
					}
				}
			}
			r := doctor.Run(cmd.Context(), o)
			if err := writeDoctor(cmd.OutOrStdout(), format, r); err != nil {
				return err
			}
			if r.Failed() || (failOn == "warn" && r.Warned()) {
				return exitError{code: 1}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&cfgPath, "config", "c", "", "validate this config file and probe its upstreams")
	fl.StringArrayVar(&upstreams, "upstream", nil, "upstream to probe as name=url (repeatable)")
	fl.StringVar(&topoFile, "topo-file", "", "read `nvidia-smi topo -m` output from a file instead of running it")
	fl.StringVar(&tpGPUs, "tp-gpus", "", "GPU indices of the tensor-parallel group, e.g. 0,1,2,3")
	fl.DurationVar(&timeout, "timeout", 3*time.Second, "timeout per upstream probe")
	fl.StringVar(&format, "format", "text", "output: text or json")
	fl.StringVar(&failOn, "fail-on", "fail", "exit 1 on: fail, or warn (warnings too)")
	fl.BoolVar(&skipGPU, "skip-gpu", false, "skip the GPU topology checks")
	return cmd
}

func parseGPUList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	seen := map[int]bool{}
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--tp-gpus %q: want comma-separated GPU indices", s)
		}
		if seen[n] {
			return nil, fmt.Errorf("--tp-gpus %q: GPU %d listed twice", s, n)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

func writeDoctor(w io.Writer, format string, r doctor.Report) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "text", "":
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		for _, c := range r.Checks {
			fmt.Fprintf(tw, "[%s]\t%s\t%s\n", c.Status, c.Name, c.Detail)
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown --format %q (text or json)", format)
}

// configChecks validates a config file and lists its upstreams to probe
// (their health path, or the server root) and the DeepSeek accounts whose
// balance to read. Upstreams with nothing to probe get a line saying why.
func configChecks(path string) ([]doctor.Check, []doctor.Target, []doctor.BalanceTarget) {
	c, err := config.Load(path)
	if err != nil {
		return []doctor.Check{{Name: "config " + path, Status: doctor.Fail, Detail: err.Error()}}, nil, nil
	}
	checks := []doctor.Check{{Name: "config " + path, Status: doctor.OK, Detail: "valid"}}
	var targets []doctor.Target
	var balances []doctor.BalanceTarget
	for _, u := range c.Upstreams {
		switch {
		case u.Kind == "sim":
			checks = append(checks, doctor.Check{Name: "upstream " + u.Name, Status: doctor.OK, Detail: "in-process simulator: nothing to probe"})
			continue
		case !u.Enabled():
			checks = append(checks, doctor.Check{Name: "upstream " + u.Name, Status: doctor.Skip,
				Detail: "disabled: its api_key reference " + u.APIKey.Ref() + " is empty"})
			continue
		}
		targets = append(targets, doctor.Target{Name: u.Name, URL: strings.TrimRight(u.URL, "/") + u.HealthCheck.Path,
			Health: u.HealthCheck.Path != "", APIKey: u.APIKey.Value()})
		if u.Kind == "deepseek" && u.APIKey.Value() != "" {
			balances = append(balances, doctor.BalanceTarget{Name: u.Name, URL: u.URL, APIKey: u.APIKey.Value()})
		}
	}
	return checks, targets, balances
}

// issuerTargets lists the config's trusted external issuers, each with
// the client dsgate itself would fetch their keys with (CA, bearer token).
// A config that does not load has none (configChecks reports why).
func issuerTargets(path string) []doctor.IssuerTarget {
	c, err := config.Load(path)
	if err != nil {
		return nil
	}
	var out []doctor.IssuerTarget
	for _, is := range c.Auth.Issuers {
		client, err := federation.NewHTTPClient(is.CAFile, is.TokenFile)
		out = append(out, doctor.IssuerTarget{Name: is.Name, Issuer: is.Issuer, JWKSURL: is.JWKSURL,
			ClockSkew: is.ClockSkew, Client: client, Err: err})
	}
	return out
}
