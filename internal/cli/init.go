package cli

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/server"
)

// Setup modes of `dsgate init`.
const (
	initOffline = "offline" // the built-in simulator only
	initCloud   = "cloud"   // DeepSeek's cloud API
	initLocal   = "local"   // self-hosted OpenAI-compatible engines
	initBoth    = "both"    // local engines first, DeepSeek's cloud as fallback
)

// File names `dsgate init` writes under --dir.
const (
	initConfigName = "dsgate.yaml"
	initDataDir    = "dsgate-data"
	initKeyName    = "signing-key-encryption.key"
)

// engineKinds are the self-hosted engines init knows: default URL and how
// each is told to think (the upstream's thinking_switch).
var engineKinds = map[string]struct{ url, thinking string }{
	"vllm":     {"http://127.0.0.1:8000", "template_thinking"},
	"sglang":   {"http://127.0.0.1:30000", "template_thinking"},
	"ollama":   {"http://127.0.0.1:11434", "ollama"},
	"llamacpp": {"http://127.0.0.1:8081", "template_enable_thinking"},
}

// errInitExists is returned when init would overwrite a config without
// --force or the user's consent.
var errInitExists = errors.New("already exists; run `dsgate init --force` to overwrite it (the encryption key and the store are kept)")

// initOptions are init's answers, from flags or prompts.
type initOptions struct {
	mode           string
	engineURLs     []string
	dir            string
	listen         string
	force          bool
	nonInteractive bool
}

// initEngine is one self-hosted upstream in the written config.
type initEngine struct {
	Name, Kind, URL, Thinking string
}

// initModel is one public model name in the written config.
type initModel struct {
	Name, Target, Comment string
	Thinking              string // "", "true" or "false"
}

// initData feeds initTemplate.
type initData struct {
	Mode, Listen, Store, KeyFile, AuditDir string
	Cloud, Sim, CloudFallback              bool
	Engines                                []initEngine
	Models                                 []initModel
	Created                                string
}

func newInitCmd() *cobra.Command {
	o := initOptions{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a secured config (auth on, audit on) and create the first admin key",
		Long: `Write dsgate.yaml in --dir with auth on, audit on and the current DeepSeek
model names; generate the signing-key encryption key into
dsgate-data/signing-key-encryption.key (mode 0600); create the first admin
API key in the store and print it once, with the next commands to run.

Modes: offline (the built-in simulator: deterministic filler text, not a
model), cloud (DeepSeek's API; export DEEPSEEK_API_KEY), local (your vLLM,
SGLang, Ollama or llama.cpp servers) or both (local engines first, DeepSeek's
cloud as their fallback). An existing config is never overwritten without
--force (or a yes at the prompt).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(cmd, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.nonInteractive, "non-interactive", false, "ask nothing: take every answer from the flags")
	f.StringVar(&o.mode, "mode", "", "offline, cloud, local or both (default offline without a terminal answer)")
	f.StringSliceVar(&o.engineURLs, "engine-url", nil,
		"a local engine as ENGINE=URL (ENGINE: vllm, sglang, ollama, llamacpp) or a bare URL (vllm); repeatable; default vllm=http://127.0.0.1:8000")
	f.StringVar(&o.dir, "dir", ".", "directory for dsgate.yaml and dsgate-data/")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "the gateway's HTTP listen address")
	f.BoolVar(&o.force, "force", false, "overwrite an existing dsgate.yaml (keeps the encryption key and the store)")
	return cmd
}

// runInit asks what is missing, writes the files and creates the key.
func runInit(cmd *cobra.Command, o initOptions) error {
	out := cmd.OutOrStdout()
	in := bufio.NewReader(cmd.InOrStdin())
	cfgPath := filepath.Join(o.dir, initConfigName)
	if _, err := os.Stat(cfgPath); err == nil && !o.force {
		if o.nonInteractive || !askYes(in, out, cfgPath+" exists. Overwrite it (the encryption key and the store are kept)? [y/N] ") {
			return fmt.Errorf("%s %w", cfgPath, errInitExists)
		}
	}
	if err := askInit(in, out, &o); err != nil {
		return err
	}
	d, err := initPlan(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(o.dir, initDataDir), 0o700); err != nil {
		return err
	}
	keyPath := filepath.Join(o.dir, initDataDir, initKeyName)
	if err := ensureKeyFile(keyPath); err != nil {
		return err
	}
	if err := writeInitConfig(cfgPath, d); err != nil {
		return err
	}
	cfg, err := loadInitConfig(cfgPath)
	if err != nil {
		return fmt.Errorf("the written config does not load (please report this): %w", err)
	}
	key, err := createInitAdminKey(cmd, cfg)
	if err != nil {
		return err
	}
	printInitNext(out, o, cfgPath, key)
	return nil
}

// askInit fills the mode and engine URLs from prompts unless the flags
// gave them or --non-interactive says not to ask.
func askInit(in *bufio.Reader, out io.Writer, o *initOptions) error {
	if o.mode == "" && !o.nonInteractive {
		fmt.Fprint(out, `What should dsgate serve?
  1) offline  the built-in simulator (deterministic filler text, not a model): a trial without keys or GPUs
  2) cloud    DeepSeek's API (needs DEEPSEEK_API_KEY)
  3) local    your own engines: vLLM, SGLang, Ollama or llama.cpp
  4) both     your engines first, DeepSeek's API as their fallback
Choice [1]: `)
		switch answer := readLine(in); answer {
		case "", "1", initOffline:
			o.mode = initOffline
		case "2", initCloud:
			o.mode = initCloud
		case "3", initLocal:
			o.mode = initLocal
		case "4", initBoth:
			o.mode = initBoth
		default:
			return fmt.Errorf("unknown choice %q: answer 1-4 or offline, cloud, local, both", answer)
		}
	}
	if o.mode == "" {
		o.mode = initOffline
	}
	if (o.mode == initLocal || o.mode == initBoth) && len(o.engineURLs) == 0 && !o.nonInteractive {
		fmt.Fprint(out, "Engine URLs, comma-separated, as ENGINE=URL (vllm, sglang, ollama, llamacpp; ENGINE= takes its\n"+
			"default: vllm :8000, sglang :30000, ollama :11434, llamacpp :8081, since llama-server's own 8080 is the gateway's)\n"+
			"  [vllm=http://127.0.0.1:8000]: ")
		if answer := readLine(in); answer != "" {
			for _, s := range strings.Split(answer, ",") {
				o.engineURLs = append(o.engineURLs, strings.TrimSpace(s))
			}
		}
	}
	return nil
}

// readLine reads one trimmed line; EOF reads as an empty answer.
func readLine(in *bufio.Reader) string {
	s, _ := in.ReadString('\n')
	return strings.TrimSpace(s)
}

// askYes asks a yes/no question whose default is no.
func askYes(in *bufio.Reader, out io.Writer, q string) bool {
	fmt.Fprint(out, q)
	a := strings.ToLower(readLine(in))
	return a == "y" || a == "yes"
}

// initPlan turns the answers into the template's data.
func initPlan(o initOptions) (initData, error) {
	d := initData{Mode: o.mode, Listen: o.listen, Created: time.Now().UTC().Format(time.RFC3339)}
	data := initDataDir
	if o.dir != "." {
		abs, err := filepath.Abs(filepath.Join(o.dir, initDataDir))
		if err != nil {
			return d, err
		}
		data = abs
	}
	d.Store = filepath.ToSlash(filepath.Join(data, "dsgate.db"))
	d.KeyFile = filepath.ToSlash(filepath.Join(data, initKeyName))
	d.AuditDir = filepath.ToSlash(filepath.Join(data, "audit"))
	switch o.mode {
	case initOffline:
		d.Sim = true
	case initCloud:
		d.Cloud = true
	case initLocal, initBoth:
		d.Cloud, d.CloudFallback = o.mode == initBoth, o.mode == initBoth
		engines, err := parseEngines(o.engineURLs)
		if err != nil {
			return d, err
		}
		d.Engines = engines
	default:
		return d, fmt.Errorf("--mode %q: want offline, cloud, local or both", o.mode)
	}
	d.Models = []initModel{
		{Name: "deepseek-flash", Target: "deepseek-flash", Comment: "DeepSeek-V4.1-Flash, the name DeepSeek's model list leads with"},
		{Name: "deepseek-v4-flash", Target: "deepseek-v4-flash"},
		{Name: "deepseek-v4-pro", Target: "deepseek-v4-pro"},
		{Name: "deepseek-chat", Target: "deepseek-v4-flash", Thinking: "false",
			Comment: "retired by DeepSeek on 2026-07-24; kept for old clients: deepseek-v4-flash without thinking"},
		{Name: "deepseek-reasoner", Target: "deepseek-v4-flash", Thinking: "true",
			Comment: "retired by DeepSeek on 2026-07-24; kept for old clients: deepseek-v4-flash with thinking"},
	}
	return d, nil
}

// parseEngines reads --engine-url values: ENGINE=URL or a bare URL (vLLM).
func parseEngines(specs []string) ([]initEngine, error) {
	if len(specs) == 0 {
		specs = []string{"vllm=" + engineKinds["vllm"].url}
	}
	var out []initEngine
	seen := map[string]int{}
	for _, s := range specs {
		kind, raw, ok := strings.Cut(s, "=")
		if !ok {
			kind, raw = "vllm", s
		}
		kind = strings.ToLower(strings.ReplaceAll(kind, ".", ""))
		ek, known := engineKinds[kind]
		if !known {
			return nil, fmt.Errorf("--engine-url %q: unknown engine %q (vllm, sglang, ollama, llamacpp)", s, kind)
		}
		if raw == "" {
			raw = ek.url
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--engine-url %q: want an http(s) URL such as %s", s, ek.url)
		}
		// dsgate adds /v1/... itself; accept the /v1 base URL engines print.
		u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v1")
		seen[kind]++
		name := kind
		if seen[kind] > 1 {
			name = fmt.Sprintf("%s-%d", kind, seen[kind])
		}
		out = append(out, initEngine{Name: name, Kind: kind, URL: u.String(), Thinking: ek.thinking})
	}
	return out, nil
}

// ensureKeyFile writes 32 random bytes as hex to path with mode 0600
// unless a key is there already: the store's signing keys are encrypted
// with it, so replacing it would lock them out.
func ensureKeyFile(path string) error {
	if _, err := os.Stat(path); err == nil {
		return os.Chmod(path, 0o600)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(hex.EncodeToString(b) + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeInitConfig renders the commented config.
func writeInitConfig(path string, d initData) error {
	var b strings.Builder
	if err := initTemplate.Execute(&b, d); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// loadInitConfig loads the written config as `dsgate serve` would (its
// paths are relative to the working directory when --dir is ".", absolute
// otherwise). A cloud upstream's ${DEEPSEEK_API_KEY} may be unset while
// init runs; it is given a placeholder for this check only.
func loadInitConfig(path string) (*config.Config, error) {
	if os.Getenv("DEEPSEEK_API_KEY") == "" {
		os.Setenv("DEEPSEEK_API_KEY", "unset-during-init")
		defer os.Unsetenv("DEEPSEEK_API_KEY")
	}
	return config.Load(path)
}

// createInitAdminKey creates the first admin key in the config's store
// through the path `dsgate keys create` takes.
func createInitAdminKey(cmd *cobra.Command, cfg *config.Config) (admin.KeyView, error) {
	ctx := cmd.Context()
	st, err := openStore(ctx, cfg.Store.DSN)
	if err != nil {
		return admin.KeyView{}, err
	}
	defer st.Close()
	pol, err := server.LoadPolicy(ctx, cfg.Auth.Roles, st)
	if err != nil {
		return admin.KeyView{}, err
	}
	name := "admin-" + time.Now().UTC().Format("20060102-150405")
	// The operator at the console (nil caller) may grant any role.
	return admin.CreateKey(ctx, st, admin.KeyRequest{Name: name, Role: "admin"}, time.Now(), pol, nil)
}

// printInitNext prints the key once and the next commands.
func printInitNext(out io.Writer, o initOptions, cfgPath string, key admin.KeyView) {
	prog := progName()
	cd := ""
	if o.dir != "." {
		cd = "cd " + o.dir + " && "
	}
	fmt.Fprintf(out, "\nWrote %s (mode %s, auth on, audit on) and %s (0600).\n", cfgPath, o.mode,
		filepath.Join(o.dir, initDataDir, initKeyName))
	fmt.Fprintf(out, "First admin key (id %s), shown once, kept only as a hash:\n\n  %s\n\n", key.ID, key.Key)
	fmt.Fprintln(out, "Next:")
	if o.mode == initCloud || o.mode == initBoth {
		fmt.Fprintln(out, "  export DEEPSEEK_API_KEY=sk-...   # DeepSeek's API key, before serving")
	}
	scheme := "http://" + o.listen
	fmt.Fprintf(out, "  %s%s serve --config %s\n", cd, prog, initConfigName)
	fmt.Fprintf(out, "  curl -s %s/v1/chat/completions -H 'Authorization: Bearer %s' \\\n"+
		"    -d '{\"model\":\"deepseek-v4-flash\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}'\n", scheme, key.Key)
	fmt.Fprintf(out, "  %s%s keys create --config %s --name my-service --role developer\n", cd, prog, initConfigName)
}

// progName is how the user ran dsgate when it is a built binary such as
// ./dsgate (so the printed commands work as pasted); "dsgate" otherwise
// (on the PATH, or a go run or test binary).
func progName() string {
	p := os.Args[0]
	if filepath.Base(p) != "dsgate" || strings.Contains(p, "go-build") {
		return "dsgate"
	}
	return p
}

var initTemplate = template.Must(template.New("init").Parse(`# dsgate config written by ` + "`dsgate init --mode {{.Mode}}`" + ` on {{.Created}}.
# Check it with: dsgate config check dsgate.yaml
# Relative paths are relative to the directory dsgate runs in.
# Every key is in docs/config.md.
version: 1
server:
  # Loopback only. To serve other machines, listen on 0.0.0.0:8080 and put
  # TLS in front (server.tls or a proxy; see docs/operations.md).
  listen: {{.Listen}}
  shutdown_grace: 30s
log:
  level: info
  format: json
# Every API route needs a key (Authorization: Bearer dsg_...) or an OAuth2
# token. Create keys with: dsgate keys create --config dsgate.yaml ...
auth:
  enabled: true
  # 32 random bytes (hex) that encrypt the OAuth2 token signing keys in the
  # store. Keep the file 0600 and give every replica the same one.
  signing_key_encryption_key: file:{{.KeyFile}}
# Keys, OAuth2 clients, roles and usage. A postgres:// URL here lets
# several replicas share them.
store:
  dsn: {{.Store}}
# Every request leaves a hash-chained record; check it with
# dsgate audit verify {{.AuditDir}}/audit*.jsonl
audit:
  enabled: true
  dir: {{.AuditDir}}
# Temperature-0 answers are cached in memory (x-dsgate-cache).
cache:
  enabled: true
upstreams:
{{- range .Engines}}
  # {{.Kind}} at {{.URL}}; dsgate adds /v1/... itself.
  - name: {{.Name}}
    kind: openai
    url: {{.URL}}
    thinking_switch: {{.Thinking}}
{{- end}}
{{- if .Cloud}}
  # DeepSeek's cloud API. Export DEEPSEEK_API_KEY before serving;
  # DEEPSEEK_BASE_URL points it elsewhere (a proxy or a test double).
  - name: deepseek
    kind: deepseek
    url: ${DEEPSEEK_BASE_URL:-https://api.deepseek.com}
    api_key: ${DEEPSEEK_API_KEY}
{{- end}}
{{- if .Sim}}
  # The built-in simulator: deterministic filler text, not a model. Replace
  # it with a real upstream (dsgate init --mode cloud|local|both).
  - name: sim
    kind: sim
    sim:
      models: [deepseek-flash, deepseek-v4-flash, deepseek-v4-pro]
{{- end}}
{{- if .Engines}}
# A target's model is the name its engine serves (vLLM/SGLang
# --served-model-name, Ollama's tag such as deepseek-r1:8b): change it to
# match yours. Targets of priority 0 are used first{{if .CloudFallback}}; DeepSeek's cloud
# (priority 1) serves only when every engine is unavailable{{end}}.
{{- end}}
models:
{{- range $m := .Models}}
{{- if $m.Comment}}
  # {{$m.Comment}}
{{- end}}
  - name: {{$m.Name}}
{{- if $m.Thinking}}
    thinking: {{$m.Thinking}}
{{- end}}
    targets:
{{- range $.Engines}}
      - {upstream: {{.Name}}, model: {{$m.Target}}}
{{- end}}
{{- if $.Cloud}}
      - {upstream: deepseek, model: {{$m.Target}}{{if $.CloudFallback}}, priority: 1{{end}}}
{{- end}}
{{- if $.Sim}}
      - {upstream: sim, model: {{$m.Target}}}
{{- end}}
{{- end}}
`))
