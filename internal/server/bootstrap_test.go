package server_test

import (
	"bytes"
	"context"
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
