package batch_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/store/sqlite"
	"github.com/dsgate/dsgate/internal/testkit"
)

// batchdBin is the test-only gateway built once by TestMain.
var batchdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "batchd")
	if err != nil {
		panic(err)
	}
	batchdBin = filepath.Join(dir, "batchd")
	out, err := exec.Command("go", "build", "-o", batchdBin, "./testdata/batchd").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		os.RemoveAll(dir)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// recorder wraps the simulator and remembers the prompt of every request.
type recorder struct {
	h       http.Handler
	mu      sync.Mutex
	prompts []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &req) == nil && len(req.Messages) > 0 {
		rc.mu.Lock()
		rc.prompts = append(rc.prompts, req.Messages[0].Content)
		rc.mu.Unlock()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rc.h.ServeHTTP(w, r)
}

func (rc *recorder) since(n int) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.prompts[n:]...)
}

func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.prompts)
}

// startBatchd runs the gateway process and returns its base URL.
func startBatchd(t *testing.T, db, dir, upstream string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(batchdBin, "-db", db, "-dir", dir, "-upstream", upstream, "-workers", "3")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		t.Fatalf("batchd did not start: %q %v", line, err)
	}
	return cmd, "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening "))
}

// TestResumeAfterKill kills the gateway with SIGKILL in the middle of a
// batch and starts it again on the same store and files: every line is
// answered exactly once, and no line answered before the kill is sent to
// the upstream again.
func TestResumeAfterKill(t *testing.T) {
	rec := &recorder{h: sim.New(sim.Options{TokensPerSecond: 400})} // 8 tokens: ~20ms a request
	up := httptest.NewServer(rec)
	t.Cleanup(up.Close)
	tmp := t.TempDir()
	db, dir := filepath.Join(tmp, "dsgate.db"), filepath.Join(tmp, "files")

	cmd, base := startBatchd(t, db, dir, up.URL)
	c := openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx := context.Background()
	const n = 200
	f, err := c.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader(inputFile(n)), "in.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeBatch})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Batches.New(ctx, openai.BatchNewParams{InputFileID: f.ID, Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "a quarter of the lines", func() bool {
		got, err := c.Batches.Get(ctx, b.ID)
		return err == nil && got.RequestCounts.Completed+got.RequestCounts.Failed >= n/4
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// What the store holds now was answered before the kill.
	st, err := sqlite.Open(ctx, db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := st.BatchItems(ctx, b.ID, -1, n)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 || len(before) == n {
		t.Fatalf("%d lines answered at the kill; the test needs a job cut midway", len(before))
	}
	answered := map[string]bool{}
	for _, it := range before {
		answered[strings.TrimPrefix(it.CustomID, "request-")] = true
	}
	mark := rec.count()

	_, base = startBatchd(t, db, dir, up.URL)
	c = openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	var done *openai.Batch
	testkit.Eventually(t, 30*time.Second, "the resumed batch to complete", func() bool {
		done, err = c.Batches.Get(ctx, b.ID)
		return err == nil && done.Status == openai.BatchStatusCompleted
	})
	for _, p := range rec.since(mark) {
		if answered[strings.TrimPrefix(p, "question ")] {
			t.Errorf("%q was answered before the kill and sent again after the restart", p)
		}
	}
	if rc := done.RequestCounts; rc.Total != n || rc.Completed+rc.Failed != n || rc.Failed != n/5 {
		t.Errorf("counts %+v", rc)
	}
	seen := map[string]int{}
	for _, l := range append(readLines(t, c, done.OutputFileID), readLines(t, c, done.ErrorFileID)...) {
		seen[l.CustomID]++
	}
	for i := range n {
		id := "request-" + strconv.Itoa(i)
		if seen[id] != 1 {
			t.Errorf("%s answered %d times", id, seen[id])
		}
	}
	t.Logf("%d of %d lines answered before the kill; %d upstream calls after the restart", len(before), n, rec.count()-mark)
}
