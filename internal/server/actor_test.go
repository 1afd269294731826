package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/audit"
)

// Every route's audit record names its actor, the admin API, the Files and
// Batch APIs and the OAuth2 token endpoint included (before the route
// adapter, their records carried an empty principal and role).
func TestAuditRecordsNameTheActor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startAuth(t, "audit: {enabled: true, dir: \""+dir+"\"}\nbatch: {api: true, dir: \""+filepath.Join(dir, "batches")+"\"}")
	mustDo := func(method, path, body string, want int) []byte {
		t.Helper()
		resp, b := e.do(t, method, path, e.adminKey, body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	mustDo("POST", "/admin/keys", `{"name":"k2","role":"developer"}`, 201)
	mustDo("PUT", "/admin/roles/ops", `{"permissions":[{"resource":"models","actions":["read"]}]}`, 200)
	raw := mustDo("POST", "/admin/clients", `{"name":"svc","role":"developer"}`, 201)
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	json.Unmarshal(raw, &cl)

	fileID := uploadBatchFile(t, e.base, e.adminKey, `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":2}}`+"\n")
	mustDo("POST", "/v1/batches", `{"input_file_id":"`+fileID+`","endpoint":"/v1/chat/completions","completion_window":"24h"}`, 200)

	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", e.base+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(cl.ID, cl.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %v %v", err, resp)
	}
	resp.Body.Close()

	e.stop()
	<-e.done
	e.done <- nil
	records := readAudit(t, dir)
	for _, route := range []string{"POST /admin/keys", "PUT /admin/roles/{name}", "POST /admin/clients",
		"POST /v1/files", "POST /v1/batches"} {
		ev, ok := records[route]
		if !ok {
			t.Errorf("no record of %s; have %v", route, keysOf(records))
			continue
		}
		if ev.Principal == "" || ev.Role != "admin" {
			t.Errorf("%s: record without its actor: principal %q role %q", route, ev.Principal, ev.Role)
		}
	}
	if ev := records["POST /oauth2/token"]; ev.Principal != cl.ID || ev.Role != "developer" {
		t.Errorf("token record names %q (role %q), want the client %q (developer)", ev.Principal, ev.Role, cl.ID)
	}
}

// readAudit returns the last record of each route in the audit files.
func readAudit(t *testing.T, dir string) map[string]audit.Event {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.jsonl"))
	out := map[string]audit.Event{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev audit.Event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				out[ev.Route] = ev
			}
		}
		f.Close()
	}
	return out
}

func keysOf(m map[string]audit.Event) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
