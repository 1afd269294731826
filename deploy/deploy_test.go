// Package deploy_test checks the deployment files: every manifest decodes
// and carries the fields operations depend on (probes, resources, security
// context, config and secrets wiring, GPU limits matching the parallel
// sizes), the gateway configs they ship pass the real config validation,
// and, when the tools are installed, `helm lint`/`helm template` and
// `nginx -t` accept the chart and the nginx example.
package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/testkit"
)

// obj is a decoded Kubernetes object.
type obj map[string]any

// plain converts nested obj values (yaml.v3 decodes nested mappings into
// the parent's map type) into map[string]any, so lookups see one type.
func plain(v any) any {
	switch x := v.(type) {
	case obj:
		return plain(map[string]any(x))
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = plain(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = plain(e)
		}
		return l
	}
	return v
}

func unmarshalObj(data []byte) (obj, error) {
	var o obj
	if err := yaml.Unmarshal(data, &o); err != nil {
		return nil, err
	}
	m, _ := plain(o).(map[string]any)
	return obj(m), nil
}

// get walks a path of map keys and list indices ("spec.template.spec").
func (o obj) get(path string) any {
	var cur any = map[string]any(o)
	for _, p := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func (o obj) str(path string) string { s, _ := o.get(path).(string); return s }

func (o obj) m(path string) obj { m, _ := o.get(path).(map[string]any); return obj(m) }

func (o obj) list(path string) []any { l, _ := o.get(path).([]any); return l }

// configFile is the dsgate.yaml entry of a ConfigMap (the key has a dot,
// so it cannot go through get's path syntax).
func (o obj) configFile() string { s, _ := o.m("data")["dsgate.yaml"].(string); return s }

func (o obj) key() string { return o.str("kind") + "/" + o.str("metadata.name") }

// decodeDocs decodes a multi-document YAML stream.
func decodeDocs(t *testing.T, name string, data []byte) []obj {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []obj
	for {
		var raw obj
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if raw == nil {
			continue
		}
		m, _ := plain(raw).(map[string]any)
		o := obj(m)
		if o.str("apiVersion") == "" || o.str("kind") == "" || o.str("metadata.name") == "" {
			t.Errorf("%s: object without apiVersion, kind or metadata.name: %v", name, o)
		}
		out = append(out, o)
	}
}

func loadDir(t *testing.T, dir string) map[string]obj {
	t.Helper()
	objs := map[string]obj{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".yaml" || d.Name() == "kustomization.yaml" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, o := range decodeDocs(t, p, data) {
			k := o.key()
			if strings.Contains(p, "optional") {
				k = "optional:" + k
			}
			objs[k] = o
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func must(t *testing.T, objs map[string]obj, key string) obj {
	t.Helper()
	o, ok := objs[key]
	if !ok {
		keys := make([]string, 0, len(objs))
		for k := range objs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		t.Fatalf("missing %s (have %v)", key, keys)
	}
	return o
}

// container returns the named container of a Deployment.
func container(t *testing.T, d obj, name string) obj {
	t.Helper()
	for _, c := range d.list("spec.template.spec.containers") {
		if co := obj(c.(map[string]any)); co.str("name") == name {
			return co
		}
	}
	t.Fatalf("%s has no container %q", d.key(), name)
	return nil
}

// parseGatewayConfig runs the gateway's own config validation on a shipped
// config file.
func parseGatewayConfig(t *testing.T, name, text string) *config.Config {
	t.Helper()
	c, err := config.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatalf("%s does not pass config validation: %v", name, err)
	}
	return c
}

func selectorMatches(t *testing.T, what string, selector, labels obj) {
	t.Helper()
	if len(selector) == 0 {
		t.Errorf("%s: empty selector", what)
	}
	for k, v := range selector {
		if labels[k] != v {
			t.Errorf("%s: selector %s=%v does not match labels %v", what, k, v, labels)
		}
	}
}

// gatewayChecks are the requirements on the gateway objects, shared by the
// raw manifests and the Helm output.
func gatewayChecks(t *testing.T, objs map[string]obj, name, cm, secret string) {
	t.Helper()
	d := must(t, objs, "Deployment/"+name)
	labels := d.m("spec.template.metadata.labels")
	selectorMatches(t, "deployment", d.m("spec.selector.matchLabels"), labels)
	c := container(t, d, "dsgate")
	if got := c.str("livenessProbe.httpGet.path"); got != "/healthz" {
		t.Errorf("liveness probe path %q", got)
	}
	if got := c.str("readinessProbe.httpGet.path"); got != "/readyz" {
		t.Errorf("readiness probe path %q", got)
	}
	for _, r := range []string{"resources.requests.cpu", "resources.requests.memory", "resources.limits.memory"} {
		if c.get(r) == nil {
			t.Errorf("gateway container lacks %s", r)
		}
	}
	if d.get("spec.template.spec.securityContext.runAsNonRoot") != true ||
		c.get("securityContext.readOnlyRootFilesystem") != true ||
		c.get("securityContext.allowPrivilegeEscalation") != false ||
		!slices.Contains(c.list("securityContext.capabilities.drop"), any("ALL")) {
		t.Errorf("gateway security context too loose: pod %v container %v", d.get("spec.template.spec.securityContext"), c.get("securityContext"))
	}
	secretRef := false
	for _, e := range c.list("env") {
		if obj(e.(map[string]any)).str("valueFrom.secretKeyRef.name") == secret {
			secretRef = true
		}
	}
	if !secretRef {
		t.Errorf("gateway env takes nothing from Secret %s", secret)
	}
	cmVol := false
	for _, v := range d.list("spec.template.spec.volumes") {
		if obj(v.(map[string]any)).str("configMap.name") == cm {
			cmVol = true
		}
	}
	if !cmVol {
		t.Errorf("gateway does not mount ConfigMap %s", cm)
	}
	cfg := parseGatewayConfig(t, "ConfigMap/"+cm, must(t, objs, "ConfigMap/"+cm).configFile())
	if cfg.Server.Listen != "0.0.0.0:8080" {
		t.Errorf("in-cluster config listens on %q, want 0.0.0.0:8080", cfg.Server.Listen)
	}
	svc := must(t, objs, "Service/"+name)
	selectorMatches(t, "service", svc.m("spec.selector"), labels)

	hpa := must(t, objs, "HorizontalPodAutoscaler/"+name)
	if hpa.str("spec.scaleTargetRef.kind") != "Deployment" || hpa.str("spec.scaleTargetRef.name") != name ||
		hpa.get("spec.minReplicas") != 2 || hpa.get("spec.maxReplicas") != 10 ||
		hpa.get("spec.metrics.0.resource.name") != "cpu" || hpa.get("spec.metrics.0.resource.target.averageUtilization") != 70 {
		t.Errorf("HPA is not CPU 70%% over 2-10 replicas of %s: %v", name, hpa.get("spec"))
	}
	pdb := must(t, objs, "PodDisruptionBudget/"+name)
	selectorMatches(t, "pdb", pdb.m("spec.selector.matchLabels"), labels)
}

var argValue = regexp.MustCompile(`^--([a-z-]+)=(.*)$`)

// engineChecks verifies the vLLM Deployment: GPU limit = TP x PP, the
// parallel flags present, the model volume and shared memory mounted.
func engineChecks(t *testing.T, objs map[string]obj, name, svcName string, cfg *config.Config) {
	t.Helper()
	d := must(t, objs, "Deployment/"+name)
	selectorMatches(t, "engine deployment", d.m("spec.selector.matchLabels"), d.m("spec.template.metadata.labels"))
	c := container(t, d, "engine")
	flags := map[string]string{}
	for _, a := range c.list("args") {
		if m := argValue.FindStringSubmatch(fmt.Sprint(a)); m != nil {
			flags[m[1]] = m[2]
		}
	}
	tp, err1 := strconv.Atoi(flags["tensor-parallel-size"])
	pp, err2 := strconv.Atoi(flags["pipeline-parallel-size"])
	if err1 != nil || err2 != nil {
		t.Fatalf("engine args lack parallel sizes: %v", c.get("args"))
	}
	gpus := fmt.Sprint(c.m("resources.limits")["nvidia.com/gpu"])
	if gpus != strconv.Itoa(tp*pp) {
		t.Errorf("nvidia.com/gpu limit %s, want tensor x pipeline = %d", gpus, tp*pp)
	}
	mounts := map[string]string{}
	for _, m := range c.list("volumeMounts") {
		mo := obj(m.(map[string]any))
		mounts[mo.str("name")] = mo.str("mountPath")
	}
	if mounts["models"] != "/models" || mounts["dshm"] != "/dev/shm" {
		t.Errorf("engine mounts %v, want models at /models and dshm at /dev/shm", mounts)
	}
	for _, v := range d.list("spec.template.spec.volumes") {
		vo := obj(v.(map[string]any))
		switch vo.str("name") {
		case "models":
			if vo.str("persistentVolumeClaim.claimName") == "" {
				t.Error("models volume is not a PVC")
			} else {
				must(t, objs, "PersistentVolumeClaim/"+vo.str("persistentVolumeClaim.claimName"))
			}
		case "dshm":
			if vo.str("emptyDir.medium") != "Memory" {
				t.Error("dshm is not a memory-backed emptyDir")
			}
		}
	}
	if c.str("startupProbe.httpGet.path") != "/health" || c.str("readinessProbe.httpGet.path") != "/health" {
		t.Errorf("engine probes should use vLLM's /health")
	}
	svc := must(t, objs, "Service/"+svcName)
	selectorMatches(t, "engine service", svc.m("spec.selector"), d.m("spec.template.metadata.labels"))
	// The gateway's local upstream must point at the engine Service.
	found := false
	for _, u := range cfg.Upstreams {
		if pu, err := url.Parse(u.URL); err == nil && pu.Hostname() == svcName && pu.Port() == "8000" {
			found = true
		}
	}
	if !found {
		t.Errorf("no gateway upstream points at http://%s:8000", svcName)
	}
	// The served model name is what the gateway routes to.
	served := flags["served-model-name"]
	routed := false
	for _, m := range cfg.Models {
		for _, tg := range m.Targets {
			routed = routed || tg.Model == served
		}
	}
	if !routed {
		t.Errorf("no gateway model targets the engine's served name %q", served)
	}
}

func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	objs := loadDir(t, "kubernetes")
	gatewayChecks(t, objs, "dsgate", "dsgate-config", "dsgate-secrets")
	cfg := parseGatewayConfig(t, "configmap", must(t, objs, "ConfigMap/dsgate-config").configFile())
	engineChecks(t, objs, "vllm", "vllm", cfg)

	opt := must(t, objs, "optional:HorizontalPodAutoscaler/dsgate")
	if opt.str("spec.metrics.1.type") != "Pods" || opt.str("spec.metrics.1.pods.metric.name") != "dsgate_in_flight_requests" {
		t.Errorf("optional HPA lacks the in-flight pods metric: %v", opt.get("spec.metrics"))
	}
	for k, o := range objs {
		if ns := o.str("metadata.namespace"); o.str("kind") != "Namespace" && ns != "dsgate" {
			t.Errorf("%s in namespace %q", k, ns)
		}
		if o.str("kind") == "Secret" {
			for sk, v := range o.m("stringData") {
				if v != "" {
					t.Errorf("example Secret carries a value for %s", sk)
				}
			}
		}
	}

	// kustomization.yaml lists every manifest of the directory.
	var kz struct {
		Resources []string `yaml:"resources"`
	}
	data, err := os.ReadFile(filepath.Join("kubernetes", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &kz); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(kz.Resources, b) {
			t.Errorf("kustomization.yaml does not list %s", b)
		}
	}
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("docker", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	froms := regexp.MustCompile(`(?m)^FROM `).FindAllString(df, -1)
	if len(froms) < 2 || !strings.Contains(df, " AS build") {
		t.Error("Dockerfile is not a multi-stage build")
	}
	for _, want := range []string{"CGO_ENABLED=0", "distroless/static", "HEALTHCHECK", "ENTRYPOINT", "/healthz"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(users) == 0 {
		t.Fatal("Dockerfile sets no USER")
	}
	if u := users[len(users)-1][1]; u == "root" || u == "0" || strings.HasPrefix(u, "0:") {
		t.Errorf("final USER is %s", u)
	}
	// Every COPY source from the build context exists.
	for _, m := range regexp.MustCompile(`(?m)^COPY (deploy/\S+)`).FindAllStringSubmatch(df, -1) {
		if _, err := os.Stat(filepath.Join("..", m[1])); err != nil {
			t.Errorf("COPY source %s: %v", m[1], err)
		}
	}
	cfg, err := os.ReadFile(filepath.Join("docker", "dsgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c := parseGatewayConfig(t, "docker/dsgate.yaml", string(cfg)); c.Server.Listen != "0.0.0.0:8080" {
		t.Errorf("image config listens on %q", c.Server.Listen)
	}
}

func TestCompose(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("compose", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := unmarshalObj(data)
	if err != nil {
		t.Fatal(err)
	}
	svcs := doc.m("services")
	for _, s := range []string{"gateway", "engine-sim", "engine-vllm", "redis", "postgres", "prometheus", "grafana"} {
		if svcs[s] == nil {
			t.Errorf("compose lacks service %s", s)
		}
	}
	sv := func(name string) obj { return obj(svcs[name].(map[string]any)) }
	for name, profile := range map[string]string{"engine-sim": "cpu", "engine-vllm": "gpu"} {
		s := sv(name)
		if !slices.Contains(s.list("profiles"), any(profile)) {
			t.Errorf("%s is not in profile %s", name, profile)
		}
		if !slices.Contains(s.list("networks.default.aliases"), any("engine")) {
			t.Errorf("%s is not reachable as engine", name)
		}
	}
	if sv("engine-vllm").str("deploy.resources.reservations.devices.0.driver") != "nvidia" {
		t.Error("vLLM service reserves no NVIDIA GPU")
	}
	if sv("gateway").get("healthcheck.test") == nil {
		t.Error("gateway has no health check")
	}
	for _, s := range []string{"redis", "postgres"} {
		if sv("gateway").get("depends_on."+s+".condition") != "service_healthy" {
			t.Errorf("gateway does not wait for %s", s)
		}
	}
	// Bind-mounted files exist.
	for name := range svcs {
		for _, v := range sv(name).list("volumes") {
			src, _, _ := strings.Cut(fmt.Sprint(v), ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			}
		}
	}
	if strings.Contains(string(data), "sk-") && !strings.Contains(string(data), "DEEPSEEK_API_KEY=sk-...") {
		t.Error("compose file seems to carry an API key")
	}
	cfgData, err := os.ReadFile(filepath.Join("compose", "dsgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := parseGatewayConfig(t, "compose/dsgate.yaml", string(cfgData))
	engine := false
	for _, u := range cfg.Upstreams {
		engine = engine || u.URL == "http://engine:8000"
	}
	if !engine {
		t.Error("compose gateway config does not use http://engine:8000")
	}
	prom, err := os.ReadFile(filepath.Join("compose", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := unmarshalObj(prom); err != nil || len(p.list("scrape_configs")) < 2 {
		t.Errorf("compose prometheus.yml: %v", err)
	}
}

func TestNginx(t *testing.T) {
	t.Parallel()
	abs, err := filepath.Abs(filepath.Join("nginx", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(data)
	for _, want := range []string{"least_conn;", "weight=3", " backup;", "proxy_buffering off;", "proxy_http_version 1.1;", "keepalive"} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	nginx, err := exec.LookPath("nginx")
	testkit.Need(t, "nginx", "apt-get install nginx-light", err)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, nginx, "-t", "-q", "-p", dir, "-c", abs, "-e", filepath.Join(dir, "error.log"),
		"-g", "pid "+filepath.Join(dir, "nginx.pid")+";").CombinedOutput()
	if err != nil {
		t.Errorf("nginx -t: %v\n%s", err, out)
	}
}

// helmBinary finds helm on PATH or in GOPATH/bin (where
// `go install helm.sh/helm/v3/cmd/helm@v3.22.0` puts it).
func helmBinary() string {
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "helm")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

func runHelm(t *testing.T, helm string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, helm, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

func TestHelmChart(t *testing.T) {
	t.Parallel()
	helm := helmBinary()
	if helm == "" {
		testkit.Need(t, "helm", "go install helm.sh/helm/v3/cmd/helm@v3.22.0", errors.New("not on PATH nor in GOPATH/bin"))
	}
	chart := filepath.Join("helm", "dsgate")
	runHelm(t, helm, "lint", "--strict", chart)

	toMap := func(out []byte) map[string]obj {
		objs := map[string]obj{}
		for _, o := range decodeDocs(t, "helm template", out) {
			objs[o.key()] = o
		}
		return objs
	}
	objs := toMap(runHelm(t, helm, "template", "rel", chart, "--namespace", "llm"))
	gatewayChecks(t, objs, "rel-dsgate", "rel-dsgate-config", "rel-dsgate-secrets")
	cfg := parseGatewayConfig(t, "helm ConfigMap", must(t, objs, "ConfigMap/rel-dsgate-config").configFile())
	engineChecks(t, objs, "rel-dsgate-engine", "rel-dsgate-engine", cfg)

	// Same object kinds as the raw manifests (namespace aside).
	raw := loadDir(t, "kubernetes")
	kinds := func(m map[string]obj) []string {
		var ks []string
		for k, o := range m {
			if !strings.HasPrefix(k, "optional:") && o.str("kind") != "Namespace" {
				ks = append(ks, o.str("kind"))
			}
		}
		slices.Sort(ks)
		return ks
	}
	if got, want := kinds(objs), kinds(raw); !slices.Equal(got, want) {
		t.Errorf("helm renders kinds %v, raw manifests have %v", got, want)
	}

	objs = toMap(runHelm(t, helm, "template", "rel", chart,
		"--set", "autoscaling.inFlight.enabled=true",
		"--set", "engine.tensorParallelSize=4", "--set", "engine.pipelineParallelSize=2",
		"--set", "secrets.existingSecret=prod-secrets"))
	hpa := must(t, objs, "HorizontalPodAutoscaler/rel-dsgate")
	if hpa.str("spec.metrics.1.pods.metric.name") != "dsgate_in_flight_requests" {
		t.Errorf("in-flight metric not rendered: %v", hpa.get("spec.metrics"))
	}
	cfg = parseGatewayConfig(t, "helm ConfigMap", must(t, objs, "ConfigMap/rel-dsgate-config").configFile())
	engineChecks(t, objs, "rel-dsgate-engine", "rel-dsgate-engine", cfg)
	if _, ok := objs["Secret/rel-dsgate-secrets"]; ok {
		t.Error("chart created a Secret although existingSecret is set")
	}
	gatewayChecks(t, objs, "rel-dsgate", "rel-dsgate-config", "prod-secrets")

	objs = toMap(runHelm(t, helm, "template", "rel", chart, "--set", "engine.enabled=false", "--set", "autoscaling.enabled=false"))
	if _, ok := objs["Deployment/rel-dsgate-engine"]; ok {
		t.Error("engine rendered although disabled")
	}
	if must(t, objs, "Deployment/rel-dsgate").get("spec.replicas") != 2 {
		t.Error("replicas not set when autoscaling is off")
	}
}
