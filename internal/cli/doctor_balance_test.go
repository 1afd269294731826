package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `dsgate doctor --config` reads the balance of the config's deepseek
// upstreams with their own key, never prints the key, and says what the
// simulator upstream is instead of "no upstreams given".
func TestDoctorConfigShowsBalance(t *testing.T) {
	t.Setenv("DSGATE_DOCTOR_DS_KEY", "sk-doctor-secret")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/user/balance" && r.Header.Get("Authorization") == "Bearer sk-doctor-secret" {
			w.Write([]byte(`{"is_available":true,"balance_infos":[{"currency":"CNY","total_balance":"42.50","granted_balance":"2.50","topped_up_balance":"40.00"}]}`))
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "dsgate.yaml")
	os.WriteFile(cfg, []byte(`
upstreams:
  - {name: cloud, kind: deepseek, url: "`+srv.URL+`", api_key: "${DSGATE_DOCTOR_DS_KEY}"}
  - {name: local-sim, kind: sim}
models:
  - {name: deepseek-v4-flash, targets: [{upstream: cloud}, {upstream: local-sim, priority: 1}]}
`), 0o600)
	out, errOut, code := runCLI(t, "doctor", "--config", cfg, "--skip-gpu")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"balance cloud", "CNY 42.50 (granted 2.50, topped up 40.00)", "local-sim", "in-process simulator"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sk-doctor-secret") || strings.Contains(out, "no upstreams given") {
		t.Errorf("doctor output leaks the key or claims no upstreams:\n%s", out)
	}
}

// Issue 20: `dsgate doctor --config` said [ok] for an upstream whose
// health path answered 404, which serve's health check marks down. Doctor
// now judges a configured health path as serve does and fails.
func TestDoctorConfigHealthPathAgreesWithServe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.Write([]byte(`{"status":"ok"}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		path string
		code int
	}{{"/health", 0}, {"/healthz", 1}} {
		cfg := filepath.Join(t.TempDir(), "dsgate.yaml")
		os.WriteFile(cfg, []byte(`
upstreams:
  - {name: llama, kind: llamacpp, url: "`+srv.URL+`", health_check: {path: `+tc.path+`}}
models:
  - {name: m, targets: [{upstream: llama}]}
`), 0o600)
		out, errOut, code := runCLI(t, "doctor", "--config", cfg, "--skip-gpu")
		if code != tc.code {
			t.Errorf("health path %s: exit %d, want %d: %s\n%s", tc.path, code, tc.code, errOut, out)
		}
	}
}
