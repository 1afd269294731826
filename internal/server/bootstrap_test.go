package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/cli"
)

// TestBootstrapAdminKey: a key printed by `dsgate keys generate` and given
// as auth.bootstrap_admin_key is an admin key once serve has started.
func TestBootstrapAdminKey(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := cli.Run(context.Background(), []string{"keys", "generate"}, &out, &errOut); code != 0 {
		t.Fatalf("keys generate: %s", errOut.String())
	}
	key := strings.TrimSpace(out.String())
	file := filepath.Join(t.TempDir(), "admin-key")
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startAuth(t, `  bootstrap_admin_key: "file:`+file+`"`)
	resp, body := e.do(t, "POST", "/admin/keys", key, `{"name":"second","role":"developer"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("bootstrap key on the admin API: %d %s", resp.StatusCode, body)
	}
}

// TestFailedAuthLimitHTTP: past auth.failed_auth_per_minute, made-up keys
// from one address get 429 with Retry-After in OpenAI's error shape, and a
// key that address already used keeps working.
func TestFailedAuthLimitHTTP(t *testing.T) {
	t.Parallel()
	e := startAuth(t, `  failed_auth_per_minute: 3`)
	if resp, body := e.do(t, "GET", "/admin/keys", e.adminKey, ""); resp.StatusCode != 200 {
		t.Fatalf("admin key: %d %s", resp.StatusCode, body)
	}
	for i := range 3 {
		if resp, _ := e.do(t, "GET", "/v1/models", fmt.Sprintf("dsg_madeup%d_secret", i), ""); resp.StatusCode != 401 {
			t.Fatalf("failure %d: %d", i, resp.StatusCode)
		}
	}
	for _, path := range []string{"/v1/models", "/admin/keys"} {
		resp, body := e.do(t, "GET", path, "dsg_another_secret", "")
		var v struct {
			Error struct{ Type, Code string }
		}
		_ = json.Unmarshal(body, &v)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || v.Error.Type != "rate_limit_error" {
			t.Fatalf("%s over the limit: %d %v %s", path, resp.StatusCode, resp.Header, body)
		}
	}
	if resp, body := e.do(t, "GET", "/admin/keys", e.adminKey, ""); resp.StatusCode != 200 {
		t.Fatalf("proven admin key from the limited address: %d %s", resp.StatusCode, body)
	}
}
