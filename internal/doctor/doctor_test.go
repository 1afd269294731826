package doctor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func readTopo(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseTopologyRecorded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		gpus   int
		groups [][]int
		link   [3]any // a, b, want link string
	}{
		{"dgx-a100-8gpu.txt", 8, [][]int{{0, 1, 2, 3, 4, 5, 6, 7}}, [3]any{0, 7, "NV12"}},
		{"hgx-h100-8gpu.txt", 8, [][]int{{0, 1, 2, 3, 4, 5, 6, 7}}, [3]any{3, 4, "NV18"}},
		{"4x-rtx4090-pcie.txt", 4, [][]int{{0}, {1}, {2}, {3}}, [3]any{1, 2, "SYS"}},
		{"4x-a6000-nvlink-pairs.txt", 4, [][]int{{0, 1}, {2, 3}}, [3]any{0, 1, "NV4"}},
		{"4x-a6000-nvlink-pairs-spaces.txt", 4, [][]int{{0, 1}, {2, 3}}, [3]any{2, 1, "SYS"}},
		{"1x-l40s.txt", 1, [][]int{{0}}, [3]any{0, 0, "X"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			top, err := ParseTopology(readTopo(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(top.GPUs) != tt.gpus {
				t.Fatalf("GPUs = %v, want %d", top.GPUs, tt.gpus)
			}
			if got := top.NVLinkGroups(); !slices.EqualFunc(got, tt.groups, slices.Equal[[]int]) {
				t.Errorf("NVLink groups = %v, want %v", got, tt.groups)
			}
			l, ok := top.Link(tt.link[0].(int), tt.link[1].(int))
			if !ok || l.String() != tt.link[2].(string) {
				t.Errorf("link %v-%v = %v, want %v", tt.link[0], tt.link[1], l, tt.link[2])
			}
		})
	}
}

func TestParseTopologyRejects(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"empty":       "",
		"error":       "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
		"bad code":    "\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \tQQ\t0-7\nGPU1\tQQ\t X \t0-7\n",
		"missing row": "\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \tNV4\t0-7\n",
		"short row":   "\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X\nGPU1\tNV4\t X \t0-7\n",
	} {
		if _, err := ParseTopology(text); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckGroup(t *testing.T) {
	t.Parallel()
	pairs, err := ParseTopology(readTopo(t, "4x-a6000-nvlink-pairs.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if gc := pairs.CheckGroup([]int{0, 1}); !gc.AllNVLink || gc.Weakest.String() != "NV4" {
		t.Errorf("pair 0,1: %+v", gc)
	}
	gc := pairs.CheckGroup([]int{0, 1, 2, 3})
	if gc.AllNVLink || gc.Weakest.String() != "SYS" {
		t.Errorf("group 0-3 should fail on SYS: %+v", gc)
	}
	if gc := pairs.CheckGroup([]int{0, 9}); gc.AllNVLink || !slices.Equal(gc.Missing, []int{9}) {
		t.Errorf("unknown GPU: %+v", gc)
	}
	if got := bestGroup(pairs, 2); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("bestGroup(2) = %v", got)
	}
	if got := bestGroup(pairs, 4); got != nil {
		t.Errorf("bestGroup(4) = %v, want none", got)
	}
}

func statusOf(r Report, prefix string) (Check, bool) {
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, prefix) {
			return c, true
		}
	}
	return Check{}, false
}

func TestRunTopologyVerdicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		group  []int
		want   Status
		detail string
	}{
		{"dgx-a100-8gpu.txt", []int{0, 1, 2, 3, 4, 5, 6, 7}, OK, "every pair shares NVLink (weakest NV12"},
		{"4x-a6000-nvlink-pairs.txt", []int{0, 2}, Warn, "use CUDA_VISIBLE_DEVICES=0,1"},
		{"4x-a6000-nvlink-pairs.txt", []int{0, 1, 2, 3}, Warn, "prefer pipeline parallelism"},
		{"4x-rtx4090-pcie.txt", []int{0, 1}, Warn, "over NODE, not NVLink"},
		{"1x-l40s.txt", []int{0}, OK, "single GPU"},
		{"1x-l40s.txt", []int{0, 1}, Fail, "GPU 1 not on this host"},
	}
	for _, tt := range tests {
		r := Run(context.Background(), Options{Topology: readTopo(t, tt.file), TPGroup: tt.group})
		c, ok := statusOf(r, "tp group")
		if !ok || c.Status != tt.want || !strings.Contains(c.Detail, tt.detail) {
			t.Errorf("%s %v: got %+v, want %s containing %q", tt.file, tt.group, c, tt.want, tt.detail)
		}
	}
	r := Run(context.Background(), Options{NoGPUReason: "nvidia-smi not found", TPGroup: []int{0, 1}})
	if c, _ := statusOf(r, "gpu topology"); c.Status != Warn || !strings.Contains(c.Detail, "nvidia-smi not found") {
		t.Errorf("no GPU: %+v", c)
	}
	r = Run(context.Background(), Options{Topology: "garbage"})
	if c, _ := statusOf(r, "gpu topology"); c.Status != Fail || !r.Failed() {
		t.Errorf("garbage topology: %+v", c)
	}
	r = Run(context.Background(), Options{Topology: readTopo(t, "4x-a6000-nvlink-pairs.txt")})
	if c, _ := statusOf(r, "gpu topology"); !strings.Contains(c.Detail, "GPUs 0,1 share NVLink; GPUs 2,3 share NVLink") {
		t.Errorf("summary: %+v", c)
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var gotAuth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		switch r.URL.Path {
		case "/down":
			w.WriteHeader(http.StatusBadGateway)
		case "/slow":
			<-r.Context().Done()
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	r := Run(context.Background(), Options{
		Timeout: 200 * time.Millisecond,
		Targets: []Target{
			{Name: "ok", URL: srv.URL + "/v1/models"},
			{Name: "down", URL: srv.URL + "/down"},
			{Name: "slow", URL: srv.URL + "/slow"},
			{Name: "closed", URL: closedURL},
			{Name: "bad", URL: "ftp://example"},
			{Name: "creds", URL: strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1)},
		},
	})
	want := map[string]Status{"ok": OK, "down": Warn, "slow": Fail, "closed": Fail, "bad": Fail, "creds": OK}
	for name, st := range want {
		c, ok := statusOf(r, "upstream "+name)
		if !ok || c.Status != st {
			t.Errorf("%s: %+v, want %s", name, c, st)
		}
		if strings.Contains(c.Detail, "hunter2") {
			t.Errorf("%s: detail leaks a password: %s", name, c.Detail)
		}
	}
	if c, _ := statusOf(r, "upstream slow"); !strings.Contains(c.Detail, "timed out") {
		t.Errorf("slow: %q", c.Detail)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range gotAuth {
		if a != "" {
			t.Errorf("probe sent Authorization %q", a)
		}
	}
	if !r.Failed() {
		t.Error("report with failures says not failed")
	}
}

func TestCheckBalance(t *testing.T) {
	t.Parallel()
	answers := map[string]string{
		"sk-rich":  `{"is_available":true,"balance_infos":[{"currency":"CNY","total_balance":"110.00","granted_balance":"10.00","topped_up_balance":"100.00"}]}`,
		"sk-empty": `{"is_available":false,"balance_infos":[{"currency":"USD","total_balance":"0.00","granted_balance":"0.00","topped_up_balance":"0.00"}]}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/user/balance" {
			http.NotFound(w, r)
			return
		}
		body, ok := answers[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		switch {
		case r.Header.Get("Authorization") == "Bearer sk-slow":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case !ok:
			http.Error(w, `{"error":{"message":"Authentication Fails"}}`, http.StatusUnauthorized)
		default:
			w.Write([]byte(body))
		}
	}))
	defer srv.Close()
	tests := []struct {
		key    string
		status Status
		detail string
	}{
		{"sk-rich", OK, "CNY 110.00 (granted 10.00, topped up 100.00)"},
		{"sk-empty", Warn, "USD 0.00 (granted 0.00, topped up 0.00); not available for API calls (is_available false): top up the account"},
		{"sk-wrong", Fail, "DeepSeek refused the api_key (balance: HTTP 401: Unauthorized)"},
		{"sk-slow", Warn, "cannot read the balance: balance: HTTP 503: Service Unavailable"},
	}
	for _, tt := range tests {
		r := Run(t.Context(), Options{Balances: []BalanceTarget{{Name: "deepseek", URL: srv.URL, APIKey: tt.key}}, NoGPUReason: "test"})
		c := r.Checks[len(r.Checks)-2] // the balance check precedes the GPU line
		if c.Name != "balance deepseek" || c.Status != tt.status || c.Detail != tt.detail {
			t.Errorf("%s: got %+v, want %s %q", tt.key, c, tt.status, tt.detail)
		}
		if strings.Contains(c.Detail, tt.key) {
			t.Errorf("%s: the key appears in the report", tt.key)
		}
	}
}

// Issue 20: doctor said [ok] for an upstream whose health path answered
// 404 while serve's health check marked it down. A target probed on its
// health path is judged as serve judges it (upstream.HealthyStatus: a 2xx,
// with the upstream's key), so the two agree.
func TestProbeHealthPathAgreesWithServe(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var gotAuth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		switch r.URL.Path {
		case "/health":
			w.Write([]byte(`{"status":"ok"}`))
		case "/loading":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	r := Run(context.Background(), Options{
		Timeout: time.Second,
		Targets: []Target{
			{Name: "healthy", URL: srv.URL + "/health", Health: true, APIKey: "k"},
			{Name: "wrong-path", URL: srv.URL + "/healthz", Health: true},
			{Name: "loading", URL: srv.URL + "/loading", Health: true},
			{Name: "root", URL: srv.URL + "/"},
		},
	})
	want := map[string]Status{"healthy": OK, "wrong-path": Fail, "loading": Fail, "root": OK}
	for name, st := range want {
		if c, ok := statusOf(r, "upstream "+name); !ok || c.Status != st {
			t.Errorf("%s: %+v, want %s", name, c, st)
		}
	}
	if c, _ := statusOf(r, "upstream wrong-path"); !strings.Contains(c.Detail, "404") || !strings.Contains(c.Detail, "down") {
		t.Errorf("wrong-path detail: %q", c.Detail)
	}
	mu.Lock()
	defer mu.Unlock()
	if gotAuth[0] != "Bearer k" {
		t.Errorf("health probe sent Authorization %q; serve's probe sends the upstream's key", gotAuth[0])
	}
}
