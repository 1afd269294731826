// Package deploy_test checks the deployment files: every manifest decodes
// and carries the fields operations depend on (probes, resources, security
// context, config and secrets wiring, GPU limits matching the parallel
// sizes), the gateway configs they ship pass the real config validation and
// are safe (auth on, secrets as references, the first admin bootstrapped
// from a secret, no simulator, DeepSeek's current model names), the images
// are pinned and buildable, and, when the tools are installed,
// `helm lint`/`helm template` and `nginx -t` accept the chart and the nginx
// example.
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

// TestMain gives the shipped configs' secret references values of the
// right shape, so config validation runs as it would in a pod whose Secret
// is filled in.
func TestMain(m *testing.M) {
	for k, v := range map[string]string{
		"DEEPSEEK_API_KEY":    "sk-deploy-test",
		"DSGATE_SIGNING_KEK":  strings.Repeat("ab", 32),
		"DSGATE_ADMIN_KEY":    "dsg_abcdefghijklmnop_" + strings.Repeat("x", 43),
		"DSGATE_POSTGRES_DSN": "postgres://dsgate:pw@postgres:5432/dsgate?sslmode=disable",
	} {
		os.Setenv(k, v)
	}
	os.Exit(m.Run())
}

// retiredDeepSeekModels are names DeepSeek's API refuses since 2026-07-24.
var retiredDeepSeekModels = []string{"deepseek-chat", "deepseek-reasoner"}

// secureConfigChecks holds every shipped gateway config to the same bar:
// auth on with its key-encryption key and first admin key taken from
// references, no in-process simulator, and DeepSeek's current models with
// the former names mapped (never sent upstream). shared says the config
// runs as several replicas, whose store must be a PostgreSQL reference.
func secureConfigChecks(t *testing.T, name string, c *config.Config, shared bool) {
	t.Helper()
	a := c.Auth
	if !a.Enabled {
		t.Errorf("%s: auth is off", name)
	}
	for field, ref := range map[string]string{
		"auth.signing_key_encryption_key": a.SigningKeyEncryptionKey.Ref(),
		"auth.bootstrap_admin_key":        a.BootstrapAdminKey.Ref(),
	} {
		if !strings.HasPrefix(ref, "${") && !strings.HasPrefix(ref, "file:") {
			t.Errorf("%s: %s is %q, want a ${ENV} or file: reference", name, field, ref)
		}
	}
	// References are expanded on load: the DSN must be the one TestMain
	// put into DSGATE_POSTGRES_DSN (a literal one with a password is
	// refused by config validation itself).
	if shared && c.Store.DSN != os.Getenv("DSGATE_POSTGRES_DSN") {
		t.Errorf("%s: replicas need a shared store from a secret, store.dsn is %q", name, c.Store.DSN)
	}
	kinds := map[string]string{}
	for _, u := range c.Upstreams {
		kinds[u.Name] = u.Kind
		if u.Kind == "sim" {
			t.Errorf("%s: upstream %s is the simulator", name, u.Name)
		}
		if u.Kind == "deepseek" && !strings.HasPrefix(u.APIKey.Ref(), "${") {
			t.Errorf("%s: upstream %s api_key %q is not a reference", name, u.Name, u.APIKey.Ref())
		}
	}
	models := map[string]config.Model{}
	for _, m := range c.Models {
		models[m.Name] = m
		for _, tg := range m.Targets {
			if kinds[tg.Upstream] == "deepseek" && slices.Contains(retiredDeepSeekModels, tg.Model) {
				t.Errorf("%s: model %s sends the retired name %q to DeepSeek", name, m.Name, tg.Model)
			}
		}
		if len(m.Fallbacks) > 0 || m.FallbackResponse != "" {
			t.Errorf("%s: model %s falls back (%v %q)", name, m.Name, m.Fallbacks, m.FallbackResponse)
		}
	}
	upstreamModel := func(public string) string {
		m, ok := models[public]
		if !ok || len(m.Targets) != 1 || kinds[m.Targets[0].Upstream] != "deepseek" {
			return ""
		}
		return m.Targets[0].Model
	}
	for _, v4 := range []string{"deepseek-v4-flash", "deepseek-v4-pro"} {
		if got := upstreamModel(v4); got != v4 {
			t.Errorf("%s: %s is not served by DeepSeek as %s (got %q)", name, v4, v4, got)
		}
	}
	for alias, thinking := range map[string]bool{"deepseek-chat": false, "deepseek-reasoner": true} {
		m := models[alias]
		if upstreamModel(alias) != "deepseek-v4-flash" || m.Thinking == nil || *m.Thinking != thinking {
			t.Errorf("%s: alias %s must be deepseek-v4-flash with thinking %v, got %+v", name, alias, thinking, m)
		}
	}
}

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
	fromSecret := map[string]bool{} // env name -> optional
	for _, e := range c.list("env") {
		eo := obj(e.(map[string]any))
		if eo.str("valueFrom.secretKeyRef.name") == secret {
			fromSecret[eo.str("name")] = eo.get("valueFrom.secretKeyRef.optional") == true
		}
	}
	for _, k := range []string{"DSGATE_SIGNING_KEK", "DSGATE_ADMIN_KEY", "DSGATE_POSTGRES_DSN"} {
		if optional, ok := fromSecret[k]; !ok || optional {
			t.Errorf("gateway env %s must come from Secret %s and be required (have %v)", k, secret, fromSecret)
		}
	}
	if optional, ok := fromSecret["DEEPSEEK_API_KEY"]; !ok || !optional {
		t.Errorf("gateway env DEEPSEEK_API_KEY must come from Secret %s, optional (have %v)", secret, fromSecret)
	}
	if img := c.str("image"); strings.Contains(img, "ghcr.io/dsgate") || strings.HasSuffix(img, ":latest") {
		t.Errorf("gateway image %q: nothing publishes it, or it is unpinned", img)
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
	secureConfigChecks(t, "ConfigMap/"+cm, cfg, true)
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
	if img := c.str("image"); !strings.HasPrefix(img, "vllm/vllm-openai:v") {
		t.Errorf("engine image %q is not a pinned vLLM release", img)
	}
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

	// The example Secret is not applied: it would blank the real one.
	must(t, objs, "optional:Secret/dsgate-secrets")

	// kustomization.yaml lists every manifest of the directory and sets the
	// gateway image, which the Deployment names "dsgate".
	var kz struct {
		Resources []string `yaml:"resources"`
		Images    []struct {
			Name    string `yaml:"name"`
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
		} `yaml:"images"`
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
	if container(t, must(t, objs, "Deployment/dsgate"), "dsgate").str("image") != "dsgate" ||
		len(kz.Images) != 1 || kz.Images[0].Name != "dsgate" || kz.Images[0].NewName == "" || kz.Images[0].NewTag == "" {
		t.Errorf("kustomization images %+v must set the image of the Deployment's \"dsgate\" container", kz.Images)
	}
}

// TestImagesPinnedAndBuildable: no deploy file names an image nothing
// publishes or an unpinned tag, and the README says how to build and push
// the gateway image.
func TestImagesPinnedAndBuildable(t *testing.T) {
	t.Parallel()
	image := regexp.MustCompile(`(?m)^[ \t]*(?:-[ \t]*)?image:[ \t]*"?([^"\s#]+)`)
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Base(p) != "Dockerfile") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(data), "ghcr.io/dsgate") {
			t.Errorf("%s names ghcr.io/dsgate, which nothing publishes", p)
		}
		for _, m := range image.FindAllStringSubmatch(string(data), -1) {
			img := m[1]
			if strings.Contains(img, "{{") || img == "dsgate" || img == "dsgate:dev" {
				continue // Helm value, kustomize image name, compose's own build
			}
			if _, tag, ok := strings.Cut(img, ":"); !ok || tag == "" || tag == "latest" {
				t.Errorf("%s: image %s is not pinned to a tag", p, img)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"docker build -f deploy/docker/Dockerfile -t REGISTRY/dsgate:TAG .", "docker push REGISTRY/dsgate:TAG",
		"kustomize edit set image dsgate=REGISTRY/dsgate:TAG", "--set image.repository=REGISTRY/dsgate", "keys generate", "DSGATE_ADMIN_KEY"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("deploy/README.md lacks %q", want)
		}
	}
}

// TestEveryShippedConfigIsSecure finds every gateway config under deploy/
// (files named dsgate.yaml, ConfigMaps, Helm values) so a new one cannot
// slip past secureConfigChecks.
func TestEveryShippedConfigIsSecure(t *testing.T) {
	t.Parallel()
	var found []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "dsgate.yaml" || strings.Contains(p, "grafana") {
			return err // grafana/provisioning/.../dsgate.yaml is Grafana's
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		found = append(found, p)
		shared := !strings.HasPrefix(p, "docker"+string(filepath.Separator))
		secureConfigChecks(t, p, parseGatewayConfig(t, p, string(data)), shared)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(found, filepath.Join("docker", "dsgate.yaml")) || !slices.Contains(found, filepath.Join("compose", "dsgate.yaml")) {
		t.Errorf("shipped configs found: %v", found)
	}
	// The Helm chart's values hold its config; checked rendered in TestHelmChart
	// and here as values, so a chart change is caught without helm installed.
	data, err := os.ReadFile(filepath.Join("helm", "dsgate", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	cfg, err := yaml.Marshal(values.Config)
	if err != nil {
		t.Fatal(err)
	}
	secureConfigChecks(t, "helm values", parseGatewayConfig(t, "helm values", strings.ReplaceAll(string(cfg),
		`{{ include "dsgate.fullname" . }}`, "rel-dsgate")), true)
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
	c := parseGatewayConfig(t, "docker/dsgate.yaml", string(cfg))
	if c.Server.Listen != "0.0.0.0:8080" {
		t.Errorf("image config listens on %q", c.Server.Listen)
	}
	secureConfigChecks(t, "docker/dsgate.yaml", c, false)
	// The single-container store lives on the volume the image declares.
	if c.Store.DSN != "/var/lib/dsgate/dsgate.db" || !strings.Contains(df, "VOLUME /var/lib/dsgate") ||
		!strings.Contains(df, "--chown=65532:65532 /out/data /var/lib/dsgate") {
		t.Errorf("image store %q is not on a volume owned by the runtime user", c.Store.DSN)
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
	for name, profile := range map[string]string{"engine-sim": "sim", "engine-vllm": "gpu"} {
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
	secureConfigChecks(t, "compose/dsgate.yaml", cfg, true)
	env := sv("gateway").m("environment")
	for _, k := range []string{"DSGATE_SIGNING_KEK", "DSGATE_ADMIN_KEY", "DSGATE_POSTGRES_DSN"} {
		if v := fmt.Sprint(env[k]); !strings.Contains(v, ":?") {
			t.Errorf("compose gateway %s = %q: must be required from the environment (${VAR:?...})", k, v)
		}
	}
	for svc, k := range map[string]string{"postgres": "POSTGRES_PASSWORD", "grafana": "GF_SECURITY_ADMIN_PASSWORD"} {
		if v := fmt.Sprint(sv(svc).m("environment")[k]); !strings.Contains(v, ":?") {
			t.Errorf("compose %s %s = %q has a default password", svc, k, v)
		}
	}
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
	img := []string{"--set", "image.repository=registry.example.com/platform/dsgate"}
	runHelm(t, helm, append([]string{"lint", "--strict", chart}, img...)...)
	// Without an image repository the chart refuses, saying what to do.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, helm, "template", "rel", chart)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "image.repository is required") {
		t.Errorf("helm template without image.repository: err %v\n%s", err, out)
	}

	toMap := func(out []byte) map[string]obj {
		objs := map[string]obj{}
		for _, o := range decodeDocs(t, "helm template", out) {
			objs[o.key()] = o
		}
		return objs
	}
	objs := toMap(runHelm(t, helm, append([]string{"template", "rel", chart, "--namespace", "llm"}, img...)...))
	gatewayChecks(t, objs, "rel-dsgate", "rel-dsgate-config", "rel-dsgate-secrets")
	cfg := parseGatewayConfig(t, "helm ConfigMap", must(t, objs, "ConfigMap/rel-dsgate-config").configFile())
	engineChecks(t, objs, "rel-dsgate-engine", "rel-dsgate-engine", cfg)

	// Same object kinds as the raw manifests (namespace aside).
	raw := loadDir(t, "kubernetes")
	kinds := func(m map[string]obj) []string {
		var ks []string
		for k, o := range m {
			// The chart may create the Secret from values; the raw example is not applied.
			if !strings.HasPrefix(k, "optional:") && o.str("kind") != "Namespace" && o.str("kind") != "Secret" {
				ks = append(ks, o.str("kind"))
			}
		}
		slices.Sort(ks)
		return ks
	}
	if got, want := kinds(objs), kinds(raw); !slices.Equal(got, want) {
		t.Errorf("helm renders kinds %v, raw manifests have %v", got, want)
	}

	objs = toMap(runHelm(t, helm, "template", "rel", chart, img[0], img[1],
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

	// The V4 parser flags, as `dsgate engine command --model deepseek-v4-flash` prints them.
	objs = toMap(runHelm(t, helm, "template", "rel", chart, img[0], img[1], "--set", "engine.tokenizerMode=deepseek_v4",
		"--set", "engine.toolCallParser=deepseek_v4", "--set", "engine.reasoningParser=deepseek_v4"))
	args := fmt.Sprint(container(t, must(t, objs, "Deployment/rel-dsgate-engine"), "engine").get("args"))
	if !strings.Contains(args, "--tokenizer-mode=deepseek_v4 --tool-call-parser=deepseek_v4 --enable-auto-tool-choice --reasoning-parser=deepseek_v4") {
		t.Errorf("engine parser flags not rendered: %s", args)
	}

	objs = toMap(runHelm(t, helm, "template", "rel", chart, img[0], img[1], "--set", "engine.enabled=false", "--set", "autoscaling.enabled=false"))
	if _, ok := objs["Deployment/rel-dsgate-engine"]; ok {
		t.Error("engine rendered although disabled")
	}
	if must(t, objs, "Deployment/rel-dsgate").get("spec.replicas") != 2 {
		t.Error("replicas not set when autoscaling is off")
	}
}
