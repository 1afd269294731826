package prometheus_test

import (
	"os"
	"os/exec"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/dsgate/dsgate/internal/metrics/metricstest"
	"github.com/dsgate/dsgate/internal/testkit"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string            `yaml:"alert"`
			Record string            `yaml:"record"`
			Expr   string            `yaml:"expr"`
			For    string            `yaml:"for"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile("alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	return rf
}

// TestRulesUseKnownMetrics: every expression selects metrics that
// internal/metrics defines or a known exporter provides.
func TestRulesUseKnownMetrics(t *testing.T) {
	known := metricstest.Known()
	alerts := map[string]string{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = r.Expr
			names := metricstest.MetricNames(r.Expr)
			if len(names) == 0 {
				t.Errorf("%s: expression selects no metric: %s", r.Alert, r.Expr)
			}
			for _, n := range names {
				if !known[n] {
					t.Errorf("%s: unknown metric %q in %s", r.Alert, n, r.Expr)
				}
			}
			if r.Labels["severity"] == "" {
				t.Errorf("%s: no severity label", r.Alert)
			}
		}
	}
	want := "sum(rate(http_errors_total[5m])) / sum(rate(http_request_duration_seconds_count[5m])) > 0.01"
	if alerts["DsgateHighErrorRatio"] != want {
		t.Errorf("DsgateHighErrorRatio expr = %q, want the deployment guide's %q", alerts["DsgateHighErrorRatio"], want)
	}
	for _, name := range []string{"DsgateHighLatencyP99", "DsgateUpstreamDown", "DsgateBreakerOpen", "DsgateAuditBacklog", "DsgateAuditDropping",
		"DsgateUpstreamBalanceLow", "DsgateUpstreamBalanceExhausted", "DsgateUpstreamBalanceUnknown",
		"DsgateTLSCertificateExpiring", "DsgateTLSCertificateExpiringSoon", "DsgateStoreUnreachable", "DsgateCacheTierFailing"} {
		if _, ok := alerts[name]; !ok {
			t.Errorf("alert %s missing", name)
		}
	}
}

// promtool returns the promtool binary. Outside CI a missing promtool skips;
// in CI (CI=true) it fails: the CI set-up must install it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	testkit.Need(t, "promtool", "install the Debian package that ships it: apt-get install -y prometheus", err)
	return ""
}

func TestPromtool(t *testing.T) {
	bin := promtool(t)
	tests := []struct {
		name string
		args []string
	}{
		{"check rules", []string{"check", "rules", "alerts.yaml"}},
		{"check config", []string{"check", "config", "prometheus.yml"}},
		{"test rules", []string{"test", "rules", "alerts_test.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), bin, tt.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %v: %v\n%s", tt.args, err, out)
			}
		})
	}
}

func TestAlertUnitTestsCoverErrorRatio(t *testing.T) {
	b, err := os.ReadFile("alerts_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			names = append(names, a.Alertname)
		}
	}
	for _, a := range []string{"DsgateHighErrorRatio", "DsgateUpstreamBalanceLow", "DsgateUpstreamBalanceExhausted", "DsgateUpstreamBalanceUnknown",
		"DsgateTLSCertificateExpiring", "DsgateTLSCertificateExpiringSoon", "DsgateStoreUnreachable", "DsgateCacheTierFailing"} {
		if !slices.Contains(names, a) {
			t.Errorf("alerts_test.yaml does not test %s", a)
		}
	}
}
