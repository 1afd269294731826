package batch_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/batch"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// quotaAPI is the Files API alone, with quota o.
func quotaAPI(t *testing.T, o batch.QuotaOptions) string {
	t.Helper()
	policy, err := auth.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	acc := access.New(access.Options{Policy: policy, Authn: keys{
		keyAdmin: {ID: "admin", Kind: auth.KindKey, Role: "admin"},
		keyOther: {ID: "other", Kind: auth.KindKey, Role: "admin"},
	}})
	blobs, err := batch.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := batch.NewManager(batch.Options{Store: storetest.OpenSQLite(t), Blobs: blobs,
		Exec: &batch.Executor{Pipeline: pipeline.New(pipeline.Options{Access: acc})}, Quota: o})
	api := httptest.NewServer(m.Handler())
	t.Cleanup(api.Close)
	return api.URL
}

func upload(t *testing.T, base, key string, size int) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("purpose", "batch")
	fw, _ := mw.CreateFormFile("file", "in.jsonl")
	fw.Write(bytes.Repeat([]byte("x"), size))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/files", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		ID    string
		Error struct{ Code string }
	}
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.ID + e.Error.Code
}

// TestUploadRate: 120 uploads in a burst from one key were all accepted;
// past the per-principal rate they get 429, and another key is unaffected.
func TestUploadRate(t *testing.T) {
	t.Parallel()
	base := quotaAPI(t, batch.QuotaOptions{UploadsPerMinute: 5, MaxStoredBytes: -1})
	codes := map[int]int{}
	for range 20 {
		code, _ := upload(t, base, keyAdmin, 10)
		codes[code]++
	}
	if codes[200] != 5 || codes[429] != 15 {
		t.Fatalf("statuses %v, want 5×200 and 15×429", codes)
	}
	if code, what := upload(t, base, keyOther, 10); code != 200 {
		t.Fatalf("other key: %d %s", code, what)
	}
}

// TestStorageQuota: one key cannot store more than its quota, even with
// uploads racing; deleting a file makes room.
func TestStorageQuota(t *testing.T) {
	t.Parallel()
	base := quotaAPI(t, batch.QuotaOptions{UploadsPerMinute: -1, MaxStoredBytes: 3000, MaxConcurrentUploads: 4})
	var mu sync.Mutex
	var ok []string
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			code, what := upload(t, base, keyAdmin, 1000)
			if code == 200 {
				mu.Lock()
				ok = append(ok, what)
				mu.Unlock()
			} else if code != 400 && code != 429 {
				t.Errorf("upload: %d %s", code, what)
			}
		})
	}
	wg.Wait()
	if len(ok) > 3 {
		t.Fatalf("%d files of 1000 bytes stored under a 3000-byte quota", len(ok))
	}
	for len(ok) < 3 {
		code, what := upload(t, base, keyAdmin, 1000)
		if code != 200 {
			t.Fatalf("filling the quota: %d %s", code, what)
		}
		ok = append(ok, what)
	}
	if code, what := upload(t, base, keyAdmin, 1000); code != 400 || !strings.Contains(what, "storage_quota_exceeded") {
		t.Fatalf("over the quota: %d %s", code, what)
	}
	if code, _ := upload(t, base, keyOther, 1000); code != 200 {
		t.Fatalf("other key: %d", code)
	}
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/v1/files/%s", base, ok[0]), nil)
	req.Header.Set("Authorization", "Bearer "+keyAdmin)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	if code, what := upload(t, base, keyAdmin, 1000); code != 200 {
		t.Fatalf("after deleting a file: %d %s", code, what)
	}
}
