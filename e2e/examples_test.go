package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// runDsgate runs a short dsgate command in dir and returns its output.
func runDsgate(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(dsgateBin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dsgate %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runExample runs `go run ./examples/NAME args...` from the repository
// root, as the example's doc comment says, with env added.
func runExample(t *testing.T, name string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"run", "./examples/" + name}, args...)...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./examples/%s: %v\n%s", name, err, out)
	}
	return string(out)
}

// Issue 21: examples/grpc-client runs as written against the quick start:
// its default address is the quick start's gRPC listener and it needs no
// key while auth is off. (The test's quick start listens on free ports, so
// the address is passed; the defaults are compared first.)
func TestGRPCClientExampleAgainstQuickStart(t *testing.T) {
	src, err := os.ReadFile("../examples/grpc-client/main.go")
	if err != nil {
		t.Fatal(err)
	}
	qs, _ := os.ReadFile("../examples/quickstart.yaml")
	def := regexp.MustCompile(`flag\.String\("addr", "([^"]+)"`).FindSubmatch(src)
	if def == nil || !strings.Contains(string(qs), "grpc:\n  listen: "+string(def[1])+"\n") {
		t.Fatalf("grpc-client's default -addr %q is not the quick start's grpc.listen", def)
	}
	q := startQuickStart(t)
	conf, _ := os.ReadFile(filepath.Join(q.dir, "quickstart.yaml"))
	addr := regexp.MustCompile(`grpc:\n  listen: (\S+)`).FindSubmatch(conf)
	if addr == nil {
		t.Fatalf("no grpc.listen in the test's quick start:\n%s", conf)
	}
	out := runExample(t, "grpc-client", nil, "-addr", string(addr[1]), "explain quantum computing")
	if !strings.Contains(out, "[usage] prompt") || !strings.Contains(out, "[finish]") {
		t.Errorf("grpc-client printed no usage:\n%s", out)
	}
}

// startInitGateway runs `dsgate init` with flags in a new directory and
// serves its config as a process; it returns the directory, the base URL
// and the printed admin key.
func startInitGateway(t *testing.T, flags ...string) (dir, base, key string) {
	t.Helper()
	dir = t.TempDir()
	port := testkit.FreePort(t)
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	out := runDsgate(t, dir, append([]string{"init", "--non-interactive", "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, flags...)...)
	m := regexp.MustCompile(`(?m)^\s+(dsg_\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("init printed no key:\n%s", out)
	}
	gw := startProcEnv(t, "gateway", dir, nil, "serve", "--config", "dsgate.yaml")
	testkit.Eventually(t, 20*time.Second, "init gateway /readyz", func() bool {
		select {
		case <-gw.done:
			t.Fatalf("gateway exited:\n%s", gw.out.Tail(30))
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return dir, base, m[1]
}

// Issue 21, done when: from `dsgate init` to a first authenticated request
// from the openai SDK, with the key init printed; a wrong key is refused.
func TestInitGatewayAnswersTheSDK(t *testing.T) {
	_, base, key := startInitGateway(t)
	ctx := context.Background()
	client := openai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	r, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "deepseek-v4-pro",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
	})
	if err != nil || len(r.Choices) == 0 || r.Choices[0].Message.Content == "" {
		t.Fatalf("SDK with the init key: %v %+v", err, r)
	}
	bad := openai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("dsg_nope_nope"), option.WithMaxRetries(0))
	_, err = bad.Models.List(ctx)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Errorf("SDK with a wrong key: %v", err)
	}
}

// Issue 21: examples/oauth-client runs as its doc comment says against a
// gateway set up with `dsgate init` (OAuth2 needs auth on): create a
// client with the config, then run the example with its id and secret.
func TestOAuthClientExampleAgainstInit(t *testing.T) {
	dir, base, _ := startInitGateway(t)
	out := runDsgate(t, dir, "clients", "create", "--config", "dsgate.yaml", "--name", "demo", "--role", "developer")
	id := regexp.MustCompile(`client_id:\s+(\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`client_secret:\s+(\S+)`).FindStringSubmatch(out)
	if id == nil || secret == nil {
		t.Fatalf("clients create printed no credentials:\n%s", out)
	}
	got := runExample(t, "oauth-client", []string{"DSGATE_URL=" + base, "DSGATE_CLIENT_ID=" + id[1],
		"DSGATE_CLIENT_SECRET=" + secret[1]}, "Say hello")
	if !strings.Contains(got, "tokens: prompt=") {
		t.Errorf("oauth-client did not complete:\n%s", got)
	}
}

// With auth off, the OAuth2 example says why it cannot get a token
// instead of a bare 404.
func TestOAuthClientExampleExplainsAuthOff(t *testing.T) {
	q := startQuickStart(t)
	cmd := exec.Command("go", "run", "./examples/oauth-client", "hi")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "DSGATE_URL="+q.base, "DSGATE_CLIENT_ID=cl_x", "DSGATE_CLIENT_SECRET=x")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "auth.enabled") {
		t.Errorf("oauth-client against auth off: %v\n%s", err, out)
	}
}
