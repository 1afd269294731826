package batch_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/dsgate/dsgate/internal/batch"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

type syncAnswer struct {
	Object  string `json:"object"`
	Results []struct {
		Index    int             `json:"index"`
		ID       string          `json:"id"`
		Status   int             `json:"status"`
		Response json.RawMessage `json:"response"`
		Error    *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Code    *string `json:"code"`
		} `json:"error"`
	} `json:"results"`
	Usage struct {
		TotalTokens int `json:"total_tokens"`
	} `json:"usage"`
}

func postBatch(t *testing.T, base, key, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/batch", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestSyncBatchPartialFailuresKeepOrder(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{sync: batch.SyncOptions{Concurrency: 3}})
	body := `{"model":"deepseek-chat","requests":[
		{"id":"req_1","prompt":"explain quantum computing","max_tokens":20},
		{"id":"req_2","prompt":"write a crawler","max_tokens":30},
		{"id":"bad_model","prompt":"x","model":"gpt-9"},
		{"id":"not_allowed","prompt":"x","model":"deepseek-reasoner"},
		{"id":"bad_param","prompt":"x","temperature":7},
		{"id":"no_prompt","max_tokens":5},
		{"id":"msgs","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":4},
		{"prompt":"anonymous item"}
	]}`
	code, raw := postBatch(t, s.base, keyChatOnly, body)
	if code != 200 {
		t.Fatalf("status %d: %s", code, raw)
	}
	var a syncAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id     string
		status int
	}{{"req_1", 200}, {"req_2", 200}, {"bad_model", 404}, {"not_allowed", 403}, {"bad_param", 400},
		{"no_prompt", 400}, {"msgs", 200}, {"7", 200}}
	if len(a.Results) != len(want) {
		t.Fatalf("%d results: %s", len(a.Results), raw)
	}
	for i, w := range want {
		r := a.Results[i]
		if r.Index != i || r.ID != w.id || r.Status != w.status {
			t.Errorf("result %d = %s/%d/%d, want %s/%d", i, r.ID, r.Index, r.Status, w.id, w.status)
		}
		if w.status == 200 {
			var cc openai.ChatCompletion
			if r.Error != nil || json.Unmarshal(r.Response, &cc) != nil || cc.Choices[0].Message.Content == "" {
				t.Errorf("result %d: %s %+v", i, r.Response, r.Error)
			}
		} else if r.Error == nil || r.Error.Message == "" || string(r.Response) != "null" {
			t.Errorf("result %d: want its own error, got %s %+v", i, r.Response, r.Error)
		}
	}
	if a.Usage.TotalTokens == 0 {
		t.Error("no summed usage")
	}
	var first openai.ChatCompletion
	json.Unmarshal(a.Results[0].Response, &first)
	if first.Usage.CompletionTokens != 20 {
		t.Errorf("max_tokens not applied: %+v", first.Usage)
	}
}

func TestSyncBatchLimits(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{sync: batch.SyncOptions{MaxItems: 3, MaxBodyBytes: 2048}})
	items := strings.Repeat(`{"prompt":"x"},`, 4)
	code, raw := postBatch(t, s.base, keyAdmin, `{"model":"deepseek-chat","requests":[`+strings.TrimSuffix(items, ",")+`]}`)
	if code != 400 || !strings.Contains(string(raw), "too_many_requests_in_batch") || !strings.Contains(string(raw), "at most 3") {
		t.Errorf("too many items: %d %s", code, raw)
	}
	code, raw = postBatch(t, s.base, keyAdmin, `{"requests":[{"prompt":"`+strings.Repeat("x", 3000)+`"}]}`)
	if code != 413 || !strings.Contains(string(raw), "request_too_large") {
		t.Errorf("too large: %d %s", code, raw)
	}
	code, raw = postBatch(t, s.base, keyAdmin, `{"requests":[]}`)
	if code != 400 {
		t.Errorf("empty: %d %s", code, raw)
	}
	code, raw = postBatch(t, s.base, "dsg_nope", `{"requests":[{"prompt":"x"}]}`)
	if code != 401 {
		t.Errorf("bad key: %d %s", code, raw)
	}
}

// inputFile builds a JSONL batch input: n chat lines, every fifth asking
// for an unknown model.
func inputFile(n int) string {
	var b strings.Builder
	for i := range n {
		model := "deepseek-chat"
		if i%5 == 4 {
			model = "gpt-9"
		}
		fmt.Fprintf(&b, `{"custom_id":"request-%d","method":"POST","url":"/v1/chat/completions","body":{"model":%q,"messages":[{"role":"user","content":"question %d"}],"max_tokens":8}}`+"\n", i, model, i)
	}
	return b.String()
}

type resultLine struct {
	ID       string `json:"id"`
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int             `json:"status_code"`
		RequestID  string          `json:"request_id"`
		Body       json.RawMessage `json:"body"`
	} `json:"response"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func readLines(t *testing.T, c openai.Client, fileID string) []resultLine {
	t.Helper()
	resp, err := c.Files.Content(context.Background(), fileID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []resultLine
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l resultLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func TestBatchAPIWithOpenAISDK(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{workers: 4})
	c := s.client(keyAdmin)
	ctx := context.Background()
	f, err := c.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader(inputFile(20)), "in.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeBatch})
	if err != nil {
		t.Fatal(err)
	}
	if f.Purpose != "batch" || f.Bytes == 0 || f.Filename != "in.jsonl" {
		t.Fatalf("file %+v", f)
	}
	b, err := c.Batches.New(ctx, openai.BatchNewParams{InputFileID: f.ID, Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h, Metadata: map[string]string{"team": "search"}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != "validating" || b.Metadata["team"] != "search" {
		t.Fatalf("created %+v", b)
	}
	testkit.Eventually(t, 10*time.Second, "the batch to complete", func() bool {
		b, err = c.Batches.Get(ctx, b.ID)
		return err == nil && b.Status == openai.BatchStatusCompleted
	})
	if b.RequestCounts.Total != 20 || b.RequestCounts.Completed != 16 || b.RequestCounts.Failed != 4 {
		t.Errorf("counts %+v", b.RequestCounts)
	}
	if b.InProgressAt == 0 || b.FinalizingAt == 0 || b.CompletedAt == 0 || b.Usage.OutputTokens != 16*8 {
		t.Errorf("batch %s", b.RawJSON())
	}
	out, errs := readLines(t, c, b.OutputFileID), readLines(t, c, b.ErrorFileID)
	seen := map[string]bool{}
	for _, l := range out {
		var cc openai.ChatCompletion
		if l.Response.StatusCode != 200 || json.Unmarshal(l.Response.Body, &cc) != nil || cc.Choices[0].Message.Content == "" || l.Error != nil {
			t.Errorf("output line %+v", l)
		}
		seen[l.CustomID] = true
	}
	for _, l := range errs {
		if l.Response.StatusCode != 404 || !strings.Contains(string(l.Response.Body), "model_not_found") {
			t.Errorf("error line %+v", l)
		}
		seen[l.CustomID] = true
	}
	if len(out) != 16 || len(errs) != 4 || len(seen) != 20 {
		t.Errorf("%d output + %d error lines, %d distinct ids", len(out), len(errs), len(seen))
	}

	page, err := c.Batches.List(ctx, openai.BatchListParams{Limit: openai.Int(10)})
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != b.ID {
		t.Fatalf("list %v %+v", err, page)
	}
	of, err := c.Files.Get(ctx, b.OutputFileID)
	if err != nil || of.Purpose != "batch_output" {
		t.Fatalf("output file %v %+v", err, of)
	}
	// Another caller sees none of it.
	other := s.client(keyOther)
	if _, err := other.Batches.Get(ctx, b.ID); !isStatus(err, 404) {
		t.Errorf("other caller reads the batch: %v", err)
	}
	if _, err := other.Files.Content(ctx, b.OutputFileID); !isStatus(err, 404) {
		t.Errorf("other caller reads the output: %v", err)
	}
	del, err := c.Files.Delete(ctx, f.ID)
	if err != nil || !del.Deleted {
		t.Fatalf("delete %v %+v", err, del)
	}
	if _, err := c.Files.Get(ctx, f.ID); !isStatus(err, 404) {
		t.Errorf("deleted file still there: %v", err)
	}
	// The analyst role has no batches permission.
	analyst := s.client(keyAnalyst)
	if _, err := analyst.Batches.List(ctx, openai.BatchListParams{}); !isStatus(err, 403) {
		t.Errorf("analyst lists batches: %v", err)
	}
}

func TestBatchValidationFails(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	c := s.client(keyAdmin)
	ctx := context.Background()
	bad := `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"deepseek-chat","messages":[]}}
{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"deepseek-chat"}}
{"custom_id":"b","method":"POST","url":"/v1/embeddings","body":{"model":"deepseek-chat"}}
not json
`
	f, err := c.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader(bad), "bad.jsonl", "application/jsonl"), Purpose: openai.FilePurposeBatch})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Batches.New(ctx, openai.BatchNewParams{InputFileID: f.ID, Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "validation to fail", func() bool {
		b, err = c.Batches.Get(ctx, b.ID)
		return err == nil && b.Status == openai.BatchStatusFailed
	})
	var codes []string
	for _, e := range b.Errors.Data {
		codes = append(codes, fmt.Sprintf("%s@%d", e.Code, e.Line))
	}
	if got := strings.Join(codes, ","); got != "duplicate_custom_id@2,mismatched_url@3,invalid_json_line@4" {
		t.Errorf("errors %s", got)
	}
	if _, err := c.Batches.New(ctx, openai.BatchNewParams{InputFileID: "file-nope", Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h}); !isStatus(err, 404) {
		t.Errorf("unknown input file: %v", err)
	}
}

func TestBatchCancel(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{workers: 1, sim: sim.Options{TokensPerSecond: 200}})
	c := s.client(keyAdmin)
	ctx := context.Background()
	f, err := c.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader(inputFile(50)), "in.jsonl", "application/jsonl"), Purpose: openai.FilePurposeBatch})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Batches.New(ctx, openai.BatchNewParams{InputFileID: f.ID, Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "some answers", func() bool {
		b, err = c.Batches.Get(ctx, b.ID)
		return err == nil && b.RequestCounts.Completed >= 2
	})
	b, err = c.Batches.Cancel(ctx, b.ID)
	if err != nil || b.Status != openai.BatchStatusCancelling {
		t.Fatalf("cancel: %v %+v", err, b)
	}
	testkit.Eventually(t, 5*time.Second, "the batch to be cancelled", func() bool {
		b, err = c.Batches.Get(ctx, b.ID)
		return err == nil && b.Status == openai.BatchStatusCancelled
	})
	done := b.RequestCounts.Completed + b.RequestCounts.Failed
	if done == 0 || done >= 50 || b.OutputFileID == "" || b.CancelledAt == 0 {
		t.Errorf("cancelled batch %s", b.RawJSON())
	}
	if got := len(readLines(t, c, b.OutputFileID)); int64(got) != b.RequestCounts.Completed {
		t.Errorf("output has %d lines, counts say %d", got, b.RequestCounts.Completed)
	}
}

func isStatus(err error, code int) bool {
	var ae *openai.Error
	return err != nil && errorsAs(err, &ae) && ae.StatusCode == code
}
