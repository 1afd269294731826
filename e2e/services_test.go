package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/testkit"
)

// needService skips the test when a shared service is unreachable, or
// fails it when CI=true, where every service must be there.
func needService(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	testkit.Need(t, what, "start it, or set its DSGATE_TEST_* address", err)
}

// flushedRedis returns the address of the test Redis
// (DSGATE_TEST_REDIS_ADDR, default 127.0.0.1:6379) after emptying
// replicaRedisDB, which this package alone uses; it is emptied again
// when the test ends.
func flushedRedis(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("DSGATE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: addr, DB: replicaRedisDB, DialTimeout: time.Second, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	needService(t, "redis at "+addr, rdb.Ping(ctx).Err())
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("flushing redis db %d: %v", replicaRedisDB, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		rdb.FlushDB(ctx)
		rdb.Close()
	})
	return addr
}

// freshPostgres creates an empty database on the test PostgreSQL
// (DSGATE_TEST_POSTGRES_DSN, default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable) and returns its
// DSN. The database is dropped when the test ends, after the processes
// registered later (the gateways) are killed.
func freshPostgres(t *testing.T) string {
	t.Helper()
	base := os.Getenv("DSGATE_TEST_POSTGRES_DSN")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	needService(t, "postgres", err)
	name := "dsgate_e2e_" + randomHex(t, 6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		t.Fatalf("creating database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
		conn.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("DSGATE_TEST_POSTGRES_DSN: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// runCLI runs the dsgate binary with args and returns the "name: value"
// lines it printed.
func runCLI(t *testing.T, args ...string) map[string]string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(dsgateBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("dsgate %s: %v\n%s", args[0], err, errOut.String())
	}
	fields := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return fields
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// replicaConfig is the config every replica shares (the listener is
// added per replica): the PostgreSQL store, Redis for rate limits, auth
// with one signing-key encryption key and one issuer, as behind a load
// balancer. Redis calls get 2 s instead of the default 100 ms: these tests
// are about what the replicas share, and on a loaded 2-core CI machine
// one Redis round trip in a burst of 400 once took longer (a 503
// rate_limiter_unavailable, as the gateway answers a failing backend).
func replicaConfig(dsn, redisAddr, kekPath string, sim *simulator) string {
	return fmt.Sprintf(`log: {access: false, level: info}
store: {dsn: %q}
redis: {addr: %q, db: %d}
rate_limit: {backend: redis, timeout: 2s}
auth:
  enabled: true
  issuer: "https://dsgate.test"
  signing_key_encryption_key: "file:%s"
upstreams:
  - {name: sim, kind: openai, url: %q}
models:
  - {name: deepseek-chat, targets: [{upstream: sim}]}
`, dsn, redisAddr, replicaRedisDB, kekPath, sim.url())
}

// launchReplica starts `dsgate serve` with shared plus its own listener,
// without waiting for it; see waitReady.
func launchReplica(t *testing.T, n int, shared string) *gatewayProc {
	t.Helper()
	port := testkit.FreePort(t)
	cfg := fmt.Sprintf("version: 1\nserver: {listen: \"127.0.0.1:%d\", shutdown_grace: 1s}\n%s", port, shared)
	path := filepath.Join(t.TempDir(), fmt.Sprintf("replica%d.yaml", n))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	g.p = startProc(t, fmt.Sprintf("replica %d", n), "serve", "--config", path)
	return g
}

// waitReady polls the gateway's /readyz until it answers 200.
func waitReady(t *testing.T, name string, g *gatewayProc) {
	t.Helper()
	testkit.Eventually(t, 15*time.Second, name+" /readyz", func() bool {
		select {
		case <-g.p.done:
			t.Fatalf("%s exited:\n%s", name, g.p.out.Tail(20))
		default:
		}
		resp, err := http.Get(g.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}
