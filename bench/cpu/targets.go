package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A stage is a dsgate configuration: bare, one pipeline stage switched on
// alone, or the full pipeline.
type stage struct {
	name string
	// what the stage turns on, for the report
	what string
	// auth: requests carry the API key
	auth bool
	// console: a viewer keeps the console open while the stage is measured
	console bool
	// model: the route's target names its model (the upstream's own name
	// for the model clients call deepseek-chat); "" for none
	model string
	yaml  func(env *stageEnv) string
}

// stageEnv is what a stage's config refers to.
type stageEnv struct {
	dir, listen, pprof, upstream string
	drop                         []string // top-level keys to leave out (an older binary's)
}

// stages in report order. Every one keeps the others off: metrics
// disabled, access log off, pricing disabled, no auth, audit or cache.
var stages = []stage{
	{name: "bare", what: "nothing: metrics, access log, pricing, auth, audit and cache off"},
	{name: "metrics", what: "Prometheus metrics (not scraped)", yaml: func(*stageEnv) string { return "metrics: {disabled: false}\n" }},
	{name: "accesslog", what: "JSON access log to a file", yaml: func(*stageEnv) string { return "log: {access: true}\n" }},
	{name: "audit", what: "audit trail to a file (hashes, no bodies)", yaml: auditYAML},
	{name: "renamed", what: "the model under the upstream's own name (deepseek-chat sent as deepseek-v4-flash, as examples/production.yaml has DeepSeek's cloud)", model: "deepseek-v4-flash"},
	{name: "cache", what: "memory cache on, every request a miss (unique prompts)", yaml: func(*stageEnv) string { return cacheYAML }},
	{name: "cost", what: "pricing (shipped price book; the mock's model is priced)", yaml: func(*stageEnv) string { return "pricing: {disabled: false}\n" }},
	{name: "auth", what: "API-key auth (SQLite store), usage recorder", auth: true, yaml: authYAML(false)},
	{name: "limits", what: "auth + rpm/tpm/concurrency limits (never reached)", auth: true, yaml: authYAML(true)},
	{name: "full", what: "all of the above", auth: true, yaml: fullYAML},
	{name: "console", what: "full, and the console signed in and refreshing its overview and upstreams pages every second", auth: true, console: true,
		yaml: func(e *stageEnv) string { return fullYAML(e) + "console: {enabled: true, insecure_cookie: true}\n" }},
}

func fullYAML(e *stageEnv) string {
	return "metrics: {disabled: false}\nlog: {access: true}\npricing: {disabled: false}\n" + auditYAML(e) + cacheYAML + authYAML(true)(e)
}

const cacheYAML = "cache: {enabled: true, memory: {max_bytes: 16777216}}\n"

func auditYAML(e *stageEnv) string {
	return fmt.Sprintf("audit: {enabled: true, dir: %q}\n", filepath.Join(e.dir, "audit"))
}

func authYAML(limits bool) func(*stageEnv) string {
	return func(e *stageEnv) string {
		s := fmt.Sprintf("store: {dsn: %q}\nauth:\n  enabled: true\n  signing_key_encryption_key: ${BENCH_KEK}\n  bootstrap_admin_key: ${BENCH_ADMIN_KEY}\n  failed_auth_per_minute: -1\n",
			filepath.Join(e.dir, "dsgate.db"))
		if limits {
			s += "  limits: {rpm: 100000000, tpm: 1000000000000, max_concurrent: 100000}\n"
		}
		return s
	}
}

// config is the whole dsgate config of a stage. Keys given twice (metrics,
// log, pricing) are avoided by starting from the bare switches and letting
// the stage's lines replace them.
func (s stage) config(e *stageEnv) string {
	base := map[string]string{
		"metrics": "metrics: {disabled: true}\n",
		"log":     "log: {access: false}\n",
		"pricing": "pricing: {disabled: true}\n",
	}
	extra := ""
	if s.yaml != nil {
		for _, line := range splitTop(s.yaml(e)) {
			key := line[:strings.IndexByte(line, ':')]
			if _, ok := base[key]; ok {
				base[key] = line
				continue
			}
			extra += line
		}
	}
	for _, k := range e.drop {
		delete(base, k)
	}
	target := "{upstream: mock}"
	if s.model != "" {
		target = fmt.Sprintf("{upstream: mock, model: %s}", s.model)
	}
	return fmt.Sprintf("version: 1\nserver: {listen: %q, pprof_listen: %q}\n", e.listen, e.pprof) +
		base["metrics"] + base["log"] + base["pricing"] + extra +
		fmt.Sprintf("upstreams:\n  - {name: mock, kind: openai, url: %q}\n", "http://"+e.upstream) +
		"models:\n  - {name: deepseek-chat, targets: [" + target + "]}\n"
}

// splitTop splits YAML text into its top-level entries (a line without
// indentation and the indented lines after it).
func splitTop(y string) []string {
	var out []string
	for _, line := range strings.SplitAfter(y, "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, " ") && len(out) > 0 {
			out[len(out)-1] += line
			continue
		}
		out = append(out, line)
	}
	return out
}

// nginxConf is a plain reverse proxy with one worker, tuned the usual way
// for an SSE API (as bench/run.sh's).
func nginxConf(nginx, dir, listen, upstream string) string {
	extra := ""
	v, _ := exec.Command(nginx, "-V").CombinedOutput()
	for _, m := range []string{"fastcgi", "uwsgi", "scgi"} {
		if !strings.Contains(string(v), "--without-http_"+m+"_module") {
			extra += fmt.Sprintf("    %s_temp_path %s;\n", m, filepath.Join(dir, m))
		}
	}
	return fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
%[4]s    keepalive_timeout 75s;
    keepalive_requests 1000000;
    upstream mock {
        server %[3]s;
        keepalive 256;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }
    server {
        listen %[2]s backlog=4096;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 60s;
        }
    }
}
`, dir, listen, upstream, extra)
}

// writeFile writes text to dir/name and returns the path.
func writeFile(dir, name, text string) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, []byte(text), 0o600)
}
