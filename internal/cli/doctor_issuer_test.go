package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/testkit/idptest"
)

// `dsgate doctor --config` checks every auth.issuers entry against the
// real IdP, and fails when one is down.
func TestDoctorChecksIssuers(t *testing.T) {
	op := idptest.Start(t, idptest.Options{})
	cfg := filepath.Join(t.TempDir(), "dsgate.yaml")
	os.WriteFile(cfg, []byte(`
upstreams:
  - {name: local-sim, kind: sim}
models:
  - {name: deepseek-chat, targets: [{upstream: local-sim}]}
auth:
  issuers:
    - {name: corp, issuer: "`+op.Issuer+`", audiences: [dsgate]}
`), 0o600)
	out, errOut, code := runCLI(t, "doctor", "--config", cfg, "--skip-gpu")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"issuer corp discovery", "jwks_uri " + op.Issuer + "/keys", "issuer corp keys", "1 signing keys", "issuer corp clock"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	op.SetDown(true)
	if out, _, code := runCLI(t, "doctor", "--config", cfg, "--skip-gpu", "--timeout", "1s"); code != 1 || !strings.Contains(out, "unreachable") {
		t.Errorf("IdP down: exit %d\n%s", code, out)
	}
}
