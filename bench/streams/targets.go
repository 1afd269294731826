package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The proxies under test: nginx, and dsgate bare (metrics, access log,
// pricing, auth, audit and cache off) or with its full pipeline (API-key
// auth in SQLite with limits, metrics, JSON access log, audit trail to a
// file, pricing, memory cache on and missed: every prompt is unique).

// dsgateConfig is a dsgate config: full selects the full pipeline.
func dsgateConfig(dir, listen, pprof, upstream string, full bool) string {
	s := fmt.Sprintf("version: 1\nserver: {listen: %q, pprof_listen: %q}\n", listen, pprof)
	if full {
		s += "metrics: {disabled: false}\nlog: {access: true}\npricing: {disabled: false}\n" +
			fmt.Sprintf("audit: {enabled: true, dir: %q}\n", filepath.Join(dir, "audit")) +
			"cache: {enabled: true, memory: {max_bytes: 16777216}}\n" +
			fmt.Sprintf("store: {dsn: %q}\n", filepath.Join(dir, "dsgate.db")) +
			"auth:\n  enabled: true\n  signing_key_encryption_key: ${BENCH_KEK}\n  bootstrap_admin_key: ${BENCH_ADMIN_KEY}\n  failed_auth_per_minute: -1\n" +
			"  limits: {rpm: 100000000, tpm: 1000000000000, max_concurrent: 100000}\n"
	} else {
		s += "metrics: {disabled: true}\nlog: {access: false}\npricing: {disabled: true}\n"
	}
	return s + fmt.Sprintf("upstreams:\n  - {name: mock, kind: openai, url: %q}\n", "http://"+upstream) +
		"models:\n  - {name: deepseek-chat, targets: [{upstream: mock}]}\n"
}

// fullEnv sets the secrets the full pipeline's config refers to and
// returns the admin key requests carry.
func fullEnv(dsgate string) (string, error) {
	out, err := exec.Command(dsgate, "keys", "generate").Output()
	if err != nil {
		return "", fmt.Errorf("dsgate keys generate: %w", err)
	}
	key := strings.TrimSpace(string(out))
	var kek [32]byte
	rand.Read(kek[:])
	os.Setenv("BENCH_KEK", hex.EncodeToString(kek[:]))
	os.Setenv("BENCH_ADMIN_KEY", key)
	return key, nil
}

// nginxConf is a plain reverse proxy with one worker, tuned the usual way
// for an SSE API (as bench/run.sh's), with room for conns connections.
func nginxConf(nginx, dir, listen, upstream string, conns int) string {
	extra := ""
	v, _ := exec.Command(nginx, "-V").CombinedOutput()
	for _, m := range []string{"fastcgi", "uwsgi", "scgi"} {
		if !strings.Contains(string(v), "--without-http_"+m+"_module") {
			extra += fmt.Sprintf("    %s_temp_path %s;\n", m, filepath.Join(dir, m))
		}
	}
	return fmt.Sprintf(`worker_processes 1;
worker_rlimit_nofile %[5]d;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections %[5]d; }
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
        location = /health { return 200 "ok"; }
    }
}
`, dir, listen, upstream, extra, conns)
}
