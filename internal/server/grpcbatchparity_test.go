package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/dsgate/dsgate/internal/audit"
	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storeopen"
	"github.com/dsgate/dsgate/internal/testkit"
)

// Parity of the gRPC API and of both batch forms with HTTP chat
// completions: the same request gets the same admission, record, headers
// (metadata) and errors over every transport.

// gbpChat is a chat request for model asking text, with at most 4 tokens.
func gbpChat(model, text string) *pb.ChatCompletionRequest {
	return &pb.ChatCompletionRequest{Model: model, Messages: []*pb.Message{{Role: "user", Content: &text}},
		MaxTokens: gbpPtr[int32](4)}
}

func gbpPtr[T any](v T) *T { return &v }

// gbpChatBody is gbpChat as an HTTP body.
func gbpChatBody(model, text string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"` + text + `"}],"max_tokens":4}`
}

// gbpPost posts body to path with the headers given as name, value pairs.
func gbpPost(t *testing.T, e *env, path, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func gbpCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// gbpStopForAudit stops e so that its audit records are on disk.
func gbpStopForAudit(e *env) {
	e.stop()
	<-e.done
	e.done <- nil
}

// Every X-Dsgate-* header the HTTP API puts on a non-streamed chat answer
// (the upstream that answered, the cost, a budget past its soft
// threshold, a canned fallback answer) has its metadata twin on the same
// gRPC call, as x-dsgate-cache and x-ratelimit-* do: a gRPC client could
// not tell which engine answered, what the call cost, that its budget
// is nearly spent, or that its answer is the operator's canned
// fallback_response.
func TestGRPCParityAnswerMetadata(t *testing.T) {
	t.Parallel()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
grpc: {listen: "127.0.0.1:0"}
routing: {max_attempts: 1}
upstreams:
  - {name: engine-a, kind: openai, url: "$a"}
  - {name: engine-b, kind: openai, url: "$b"}
models:
  - {name: m, targets: [{upstream: engine-a}]}
  - {name: fb, targets: [{upstream: engine-b}], fallback_response: "sorry, try later"}
pricing:
  models:
    - {model: "*", upstream: engine-a, internal: true, currency: USD, cache_hit: "0", cache_miss: "100", output: "100"}
budgets:
  rules:
    - {subject: "key:anonymous", period: month, amount: "1000", currency: USD, soft: 0.000000001}
`, map[string]sim.Options{"a": {Models: []string{"m"}},
		"b": {Models: []string{"fb"}, Faults: sim.Faults{ErrorRate: 1, ErrorStatus: 500}}})
	cl := grpcClient(t, e)
	for _, model := range []string{"m", "fb"} {
		resp, body := gbpPost(t, e, "/v1/chat/completions", gbpChatBody(model, "hello"))
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %s: %d %s", model, resp.StatusCode, body)
		}
		var md metadata.MD
		if _, err := cl.ChatCompletion(gbpCtx(t), gbpChat(model, "hello"), grpc.Header(&md)); err != nil {
			t.Fatalf("gRPC %s: %v", model, err)
		}
		for name := range resp.Header {
			if !strings.HasPrefix(name, "X-Dsgate-") {
				continue
			}
			if len(md.Get(name)) == 0 {
				t.Errorf("model %s: the HTTP answer carries %s: %q, the gRPC answer's metadata has no %s (has %v)",
					model, name, resp.Header.Get(name), strings.ToLower(name), gbpKeys(md))
			}
		}
	}
}

func gbpKeys(md metadata.MD) []string {
	var ks []string
	for k := range md {
		ks = append(ks, k)
	}
	return ks
}

// An exhausted budget refuses a call until the budget resets, and HTTP
// says so in Retry-After (seconds to the reset); the gRPC status's
// RetryInfo, which grpcapi/errors.go says carries "the same as
// Retry-After", says one second: a gRPC client that honours it retries
// every second for the rest of the month.
func TestGRPCParityBudgetRetryInfo(t *testing.T) {
	t.Parallel()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
grpc: {listen: "127.0.0.1:0"}
upstreams:
  - {name: engine-a, kind: openai, url: "$a"}
models:
  - {name: m, targets: [{upstream: engine-a}]}
pricing:
  models:
    - {model: "*", upstream: engine-a, internal: true, currency: USD, cache_hit: "0", cache_miss: "100", output: "100"}
budgets:
  rules:
    - {subject: "key:anonymous", period: month, amount: "0.000000001", currency: USD}
`, map[string]sim.Options{"a": {Models: []string{"m"}}})
	if resp, body := gbpPost(t, e, "/v1/chat/completions", gbpChatBody("m", "spend it")); resp.StatusCode != 200 {
		t.Fatalf("first call: %d %s", resp.StatusCode, body)
	}
	resp, body := gbpPost(t, e, "/v1/chat/completions", gbpChatBody("m", "again"))
	after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || !strings.Contains(string(body), "budget_exhausted") || after < 60 {
		t.Fatalf("HTTP over budget: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	_, err := grpcClient(t, e).ChatCompletion(gbpCtx(t), gbpChat("m", "again"))
	st, _ := status.FromError(err)
	var delay time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.RetryDelay.AsDuration()
		}
	}
	if want := time.Duration(after) * time.Second; delay < want-5*time.Second {
		t.Errorf("gRPC over budget: %v, RetryInfo %v; HTTP Retry-After says %v (until the budget resets)", err, delay, want)
	}
}

// gbpAuditEnv is a gateway with the audit trail on (in the directory it
// returns), engine-a serving m, and models k1, k2 and k3, each served by
// an upstream of its own that refuses the gateway's credentials (401:
// the caller gets 502 upstream_credentials, and the upstream is out
// until probed, hence one per call).
func gbpAuditEnv(t *testing.T) (*env, string) {
	dir := t.TempDir()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
grpc: {listen: "127.0.0.1:0"}
audit: {enabled: true, dir: "`+dir+`"}
routing: {max_attempts: 1}
upstreams:
  - {name: engine-a, kind: openai, url: "$a"}
  - {name: engine-k1, kind: openai, url: "$k1"}
  - {name: engine-k2, kind: openai, url: "$k2"}
  - {name: engine-k3, kind: openai, url: "$k3"}
models:
  - {name: m, targets: [{upstream: engine-a}]}
  - {name: k1, targets: [{upstream: engine-k1}]}
  - {name: k2, targets: [{upstream: engine-k2}]}
  - {name: k3, targets: [{upstream: engine-k3}]}
`, map[string]sim.Options{"a": {Models: []string{"m"}},
		"k1": {Models: []string{"k1"}, APIKey: "sk-not-the-gateways"},
		"k2": {Models: []string{"k2"}, APIKey: "sk-not-the-gateways"},
		"k3": {Models: []string{"k3"}, APIKey: "sk-not-the-gateways"}})
	return e, dir
}

// The audit record (and the metrics' status label) of a failed gRPC call
// carries the status of its failure, as the HTTP record of the same
// failure does and as the gRPC status's own ErrorInfo says (http_status
// 502); the record said 503, the HTTP status its gRPC code maps back to
// (grpcapi.HTTPStatus), for an upstream that refuses the gateway's
// credentials. (402, 409, 413 and 422 are lost the same way.)
func TestGRPCParityAuditStatusOfAFailure(t *testing.T) {
	t.Parallel()
	e, dir := gbpAuditEnv(t)
	if resp, body := gbpPost(t, e, "/v1/chat/completions", gbpChatBody("k1", "hi"), "X-Request-Id", "http-k"); resp.StatusCode != 502 {
		t.Fatalf("HTTP: %d %s", resp.StatusCode, body)
	}
	cl := grpcClient(t, e)
	_, err := cl.ChatCompletion(metadata.AppendToOutgoingContext(gbpCtx(t), "x-request-id", "grpc-k"), gbpChat("k2", "hi"))
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Metadata["http_status"] != "502" {
			t.Fatalf("gRPC ErrorInfo http_status %q, want 502: %v", info.Metadata["http_status"], err)
		}
	}
	_, err = cl.Batch(metadata.AppendToOutgoingContext(gbpCtx(t), "x-request-id", "grpc-batch"),
		&pb.BatchRequest{Items: []*pb.BatchItem{{Request: &pb.BatchItem_Chat{Chat: gbpChat("k3", "hi")}}}})
	if err != nil {
		t.Fatal(err)
	}
	gbpStopForAudit(e)
	got := map[string]int{}
	for _, ev := range readAuditAll(t, dir) {
		got[ev.RequestID] = ev.Status
	}
	for _, id := range []string{"http-k", "grpc-k", "grpc-batch-0"} {
		if got[id] != 502 {
			t.Errorf("audit record %s: status %d, want 502 (HTTP's record and the gRPC ErrorInfo say 502)", id, got[id])
		}
	}
}

// The audit record of a gRPC call names the address it came from, as
// every HTTP record does: client_addr was always empty.
func TestGRPCParityAuditClientAddr(t *testing.T) {
	t.Parallel()
	e, dir := gbpAuditEnv(t)
	gbpPost(t, e, "/v1/chat/completions", gbpChatBody("m", "hi"), "X-Request-Id", "http-m")
	if _, err := grpcClient(t, e).ChatCompletion(metadata.AppendToOutgoingContext(gbpCtx(t), "x-request-id", "grpc-m"), gbpChat("m", "hi")); err != nil {
		t.Fatal(err)
	}
	gbpStopForAudit(e)
	addr := map[string]string{}
	for _, ev := range readAuditAll(t, dir) {
		addr[ev.RequestID] = ev.ClientAddr
	}
	if !strings.HasPrefix(addr["http-m"], "127.0.0.1:") {
		t.Fatalf("HTTP record's client_addr %q", addr["http-m"])
	}
	if !strings.HasPrefix(addr["grpc-m"], "127.0.0.1:") {
		t.Errorf("gRPC record's client_addr %q; the HTTP record of the same call has %q", addr["grpc-m"], addr["http-m"])
	}
}

// The audit record of a streamed gRPC answer keeps a digest of what was
// streamed, as a streamed HTTP answer's does (its sink's digest): the
// gRPC stream's record had neither output nor output_sha256, so nothing
// in the trail attests the answer a gRPC streaming client got.
func TestGRPCParityAuditStreamOutput(t *testing.T) {
	t.Parallel()
	e, dir := gbpAuditEnv(t)
	gbpPost(t, e, "/v1/chat/completions", strings.Replace(gbpChatBody("m", "hi"), "{", `{"stream":true,`, 1), "X-Request-Id", "http-stream")
	st, err := grpcClient(t, e).StreamChatCompletion(metadata.AppendToOutgoingContext(gbpCtx(t), "x-request-id", "grpc-stream"),
		&pb.StreamChatCompletionRequest{Request: gbpChat("m", "hi")})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := st.Recv(); err != nil {
			break
		}
	}
	gbpStopForAudit(e)
	out := map[string]string{}
	for _, ev := range readAuditAll(t, dir) {
		out[ev.RequestID] = ev.OutputSHA256
	}
	if out["http-stream"] == "" {
		t.Fatalf("HTTP stream record without output_sha256")
	}
	if out["grpc-stream"] == "" {
		t.Errorf("gRPC stream record has no output_sha256; the HTTP stream's has %s", out["http-stream"])
	}
}

// POST /v1/batch honours the client's Cache-Control as a chat completion
// and the gRPC Batch's items (metadata cache-control) do: with no-store
// nothing of the batch may be stored. The items ignored the header (and
// X-Dsgate-Priority): the answer of a batch sent with no-store was
// cached and served to the next identical request.
func TestBatchParityCacheControl(t *testing.T) {
	t.Parallel()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
grpc: {listen: "127.0.0.1:0"}
cache: {enabled: true}
upstreams:
  - {name: engine-a, kind: openai, url: "$a"}
models:
  - {name: m, targets: [{upstream: engine-a}]}
`, map[string]sim.Options{"a": {Models: []string{"m"}}})
	det := func(text string) string {
		return `{"model":"m","temperature":0,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"` + text + `"}],"max_tokens":4}`
	}
	cacheOf := func(text string) string {
		t.Helper()
		resp, body := gbpPost(t, e, "/v1/chat/completions", det(text))
		if resp.StatusCode != 200 {
			t.Fatalf("chat: %d %s", resp.StatusCode, body)
		}
		return resp.Header.Get("X-Dsgate-Cache")
	}
	// The same request through each transport with Cache-Control: no-store.
	if resp, body := gbpPost(t, e, "/v1/chat/completions", det("chat"), "Cache-Control", "no-store"); resp.StatusCode != 200 {
		t.Fatalf("chat no-store: %d %s", resp.StatusCode, body)
	}
	temp := 0.0
	item := gbpChat("m", "grpc batch")
	item.Temperature = &temp
	item.Thinking = &pb.Thinking{Type: "disabled"}
	ctx := metadata.AppendToOutgoingContext(gbpCtx(t), "cache-control", "no-store")
	if _, err := grpcClient(t, e).Batch(ctx, &pb.BatchRequest{Items: []*pb.BatchItem{{Request: &pb.BatchItem_Chat{Chat: item}}}}); err != nil {
		t.Fatal(err)
	}
	if resp, body := gbpPost(t, e, "/v1/batch", `{"requests":[`+det("http batch")+`]}`, "Cache-Control", "no-store"); resp.StatusCode != 200 ||
		!strings.Contains(string(body), `"status":200`) {
		t.Fatalf("/v1/batch: %d %s", resp.StatusCode, body)
	}
	for _, text := range []string{"chat", "grpc batch", "http batch"} {
		if got := cacheOf(text); got != "miss" {
			t.Errorf("sent as %s with Cache-Control: no-store, then as a chat completion: X-Dsgate-Cache %q, want miss (nothing stored)", text, got)
		}
	}
}

// gbpAuthStart is startAuth with the simulator options a, a gRPC
// listener, the audit trail (in <dir>/audit, dir returned by gbpDir) and
// the Files and Batch APIs on (batch holds more batch settings, e.g.
// "workers: 1").
func gbpAuthStart(t *testing.T, a sim.Options, batch string) *authEnv {
	t.Helper()
	dir := t.TempDir()
	return startAuthWith(t, dir, "", `
grpc: {listen: "127.0.0.1:0"}
audit: {enabled: true, dir: "`+filepath.Join(dir, "audit")+`"}
batch: {api: true, dir: "`+filepath.Join(dir, "batches")+`", poll_interval: 50ms, `+batch+`}`, a)
}

// gbpDir is the directory of e's store and audit trail.
func gbpDir(e *authEnv) string { return filepath.Dir(e.db) }

// gbpBatch uploads n chat lines as key and starts a batch of them.
func gbpBatch(t *testing.T, e *authEnv, key string, n int) string {
	t.Helper()
	var lines strings.Builder
	for i := range n {
		fmt.Fprintf(&lines, `{"custom_id":"r%d","method":"POST","url":"/v1/chat/completions","body":{"model":"deepseek-chat","messages":[{"role":"user","content":"line %d"}],"max_tokens":2}}`+"\n", i, i)
	}
	fileID := uploadBatchFile(t, e.base, key, lines.String())
	resp, b := e.do(t, "POST", "/v1/batches", key, `{"input_file_id":"`+fileID+`","endpoint":"/v1/chat/completions","completion_window":"24h"}`)
	var bt struct{ ID string }
	if resp.StatusCode != 200 || json.Unmarshal(b, &bt) != nil {
		t.Fatalf("create batch: %d %s", resp.StatusCode, b)
	}
	return bt.ID
}

// uploadBatchFile uploads jsonl (the lines of a batch) as key through
// POST /v1/files and returns the file's id.
func uploadBatchFile(t *testing.T, base, key, jsonl string) string {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("purpose", "batch")
	fw, _ := mw.CreateFormFile("file", "in.jsonl")
	fw.Write([]byte(jsonl))
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/v1/files", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	return f.ID
}

// gbpBatchState reads a batch from the gateway's store, as an operator
// would (its owner may no longer be able to).
func gbpBatchState(t *testing.T, e *authEnv, id string) store.Batch {
	t.Helper()
	st, err := storeopen.Open(context.Background(), e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := st.Batch(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A revoked key is refused at its next request, over every transport: a
// Batch API job of that key is no exception. The job ran every line
// under the principal saved when it was created, so revoking a leaked
// key did not stop the batch it had queued (up to batch.max_lines lines,
// for the whole completion window); narrowing its models or limits did
// not apply either.
func TestBatchParityRevokedKeyStopsItsBatch(t *testing.T) {
	t.Parallel()
	e := gbpAuthStart(t, sim.Options{TTFT: 250 * time.Millisecond}, "workers: 1")
	id, key := keyVia(t, e, `{"name":"leaked","role":"developer"}`)
	const lines = 4
	bid := gbpBatch(t, e, key, lines)
	testkit.Eventually(t, 5*time.Second, "the first line to reach the upstream", func() bool {
		return e.sims["a"].Stats().Requests >= 1
	})
	if resp, b := e.do(t, "DELETE", "/admin/keys/"+id, e.adminKey, ""); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.do(t, "POST", "/v1/chat/completions", key, gbpChatBody("deepseek-chat", "x")); resp.StatusCode != 401 {
		t.Fatalf("the revoked key's chat completion: %d, want 401", resp.StatusCode)
	}
	var b store.Batch
	testkit.Eventually(t, 5*time.Second, "the batch to end", func() bool {
		b = gbpBatchState(t, e, bid)
		return b.Status == store.BatchCompleted || b.Status == store.BatchFailed || b.Status == store.BatchCancelled
	})
	if n := e.sims["a"].Stats().Requests; n > 2 {
		t.Errorf("the upstream got %d of the batch's %d lines, %d after the key was revoked (batch %s: %d completed, %d failed)",
			n, lines, n-1, b.Status, b.Completed, b.Failed)
	}
}

// Batch API workers are shared by every tenant (batch.workers): a line
// refused by its own key's rate limit waits and tries again, but it
// waited holding its worker, so one key with a low RPM and a long batch
// held every worker asleep (up to 30 s at a time) and no other tenant's
// batch ran at all.
func TestBatchParityRateLimitedTenantDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	e := gbpAuthStart(t, sim.Options{}, "workers: 2")
	_, slow := keyVia(t, e, `{"name":"slow","role":"developer","rpm":1}`)
	_, other := keyVia(t, e, `{"name":"other","role":"developer"}`)
	gbpBatch(t, e, slow, 10)
	testkit.Eventually(t, 5*time.Second, "two lines of the slow key to wait for its rate limit", func() bool {
		return gbpMetric(t, e, `dsgate_ratelimit_rejections_total{limit="rpm"}`) >= 2
	})
	bid := gbpBatch(t, e, other, 1)
	deadline := time.Now().Add(3 * time.Second)
	var b store.Batch
	for time.Now().Before(deadline) {
		if b = gbpBatchState(t, e, bid); b.Status == store.BatchCompleted {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("another key's 1-line batch is still %s after 3 s: the workers wait for the first key's rate limit", b.Status)
}

// gbpMetric is the value of the sample named series (name{labels}) on
// /metrics, 0 when absent.
func gbpMetric(t *testing.T, e *authEnv, series string) float64 {
	t.Helper()
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(page), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// A refusal by the caller's rate limit tells the limit's state, as HTTP's
// 429 does in its X-Ratelimit-* headers: the gRPC status came with none
// (in headers or trailers); the x-ratelimit-* metadata is sent only on
// calls that were admitted.
func TestGRPCParityRateLimitMetadataOnRefusal(t *testing.T) {
	t.Parallel()
	e := gbpAuthStart(t, sim.Options{}, "workers: 1")
	_, httpKey := keyVia(t, e, `{"name":"h","role":"developer","rpm":1}`)
	_, grpcKey := keyVia(t, e, `{"name":"g","role":"developer","rpm":1}`)
	var resp *http.Response
	for range 2 {
		resp, _ = e.do(t, "POST", "/v1/chat/completions", httpKey, gbpChatBody("deepseek-chat", "x"))
	}
	if resp.StatusCode != 429 || resp.Header.Get("X-Ratelimit-Limit-Requests") == "" {
		t.Fatalf("HTTP: %d %v", resp.StatusCode, resp.Header)
	}
	cl := grpcClient(t, e.env)
	ctx := metadata.AppendToOutgoingContext(gbpCtx(t), "authorization", "Bearer "+grpcKey)
	var hdr, tr metadata.MD
	for range 2 {
		hdr, tr = nil, nil
		_, err := cl.ChatCompletion(ctx, gbpChat("deepseek-chat", "x"), grpc.Header(&hdr), grpc.Trailer(&tr))
		if st, _ := status.FromError(err); err != nil && st.Code().String() != "ResourceExhausted" {
			t.Fatalf("gRPC: %v", err)
		}
	}
	for name := range resp.Header {
		if !strings.HasPrefix(name, "X-Ratelimit-") {
			continue
		}
		if len(hdr.Get(name)) == 0 && len(tr.Get(name)) == 0 {
			t.Errorf("HTTP's 429 carries %s: %q; the gRPC RESOURCE_EXHAUSTED has no %s (headers %v, trailers %v)",
				name, resp.Header.Get(name), strings.ToLower(name), gbpKeys(hdr), gbpKeys(tr))
		}
	}
}

// A gRPC Batch item's record starts when the item does, as a POST
// /v1/batch item's does (pipeline.Item): every item's request_at was the
// Batch's start, so an item that waited for grpc.batch_concurrency
// recorded that wait as its latency (metrics too) and the wrong
// request time.
func TestGRPCParityBatchItemStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
grpc: {listen: "127.0.0.1:0", batch_concurrency: 1}
batch: {concurrency: 1}
audit: {enabled: true, dir: "`+dir+`"}
upstreams:
  - {name: engine-a, kind: openai, url: "$a"}
models:
  - {name: m, targets: [{upstream: engine-a}]}
`, map[string]sim.Options{"a": {Models: []string{"m"}, TTFT: 200 * time.Millisecond}})
	if resp, body := gbpPost(t, e, "/v1/batch", `{"model":"m","requests":[{"prompt":"a","max_tokens":2},{"prompt":"b","max_tokens":2}]}`,
		"X-Request-Id", "http-batch"); resp.StatusCode != 200 {
		t.Fatalf("/v1/batch: %d %s", resp.StatusCode, body)
	}
	_, err := grpcClient(t, e).Batch(metadata.AppendToOutgoingContext(gbpCtx(t), "x-request-id", "grpc-batch"),
		&pb.BatchRequest{Items: []*pb.BatchItem{{Request: &pb.BatchItem_Chat{Chat: gbpChat("m", "a")}},
			{Request: &pb.BatchItem_Chat{Chat: gbpChat("m", "b")}}}})
	if err != nil {
		t.Fatal(err)
	}
	gbpStopForAudit(e)
	evs := map[string]audit.Event{}
	for _, ev := range readAuditAll(t, dir) {
		evs[ev.RequestID] = ev
	}
	for _, b := range []string{"http-batch", "grpc-batch"} {
		first, second := evs[b+"-0"], evs[b+"-1"]
		if first.Route == "" || second.Route == "" {
			t.Fatalf("%s: no item records", b)
		}
		if second.RequestAt.Before(first.ResponseAt.Add(-50 * time.Millisecond)) {
			t.Errorf("%s (%s): the second item's request_at %s is before the first item's response_at %s, which it waited for; "+
				"its latency %v includes the wait", b, second.Route, second.RequestAt.Format(time.StampMilli),
				first.ResponseAt.Format(time.StampMilli), second.ResponseAt.Sub(second.RequestAt))
		}
	}
}

// Cancelling a batch "stops sending its lines, waits for those in flight
// and finishes it as cancelled with the answers it has" (Manager.Cancel).
// The lines in flight were cut instead, and charged (the prompt estimate
// of a call abandoned mid-way, in the usage store and their metered audit
// records), yet they are in neither the output nor the error file, nor
// in the batch's request_counts or usage: the client pays for requests
// its batch never reports.
func TestBatchParityCancelReportsWhatItCharges(t *testing.T) {
	t.Parallel()
	e := gbpAuthStart(t, sim.Options{TTFT: 1200 * time.Millisecond}, "workers: 2")
	_, key := keyVia(t, e, `{"name":"c","role":"developer"}`)
	bid := gbpBatch(t, e, key, 3)
	testkit.Eventually(t, 5*time.Second, "two lines in flight", func() bool { return e.sims["a"].Stats().Running >= 2 })
	if resp, b := e.do(t, "POST", "/v1/batches/"+bid+"/cancel", key, ""); resp.StatusCode != 200 {
		t.Fatalf("cancel: %d %s", resp.StatusCode, b)
	}
	var b store.Batch
	testkit.Eventually(t, 5*time.Second, "the batch to be cancelled", func() bool {
		b = gbpBatchState(t, e, bid)
		return b.Status == store.BatchCancelled
	})
	gbpStopForAudit(e.env)
	charged := 0
	for _, ev := range readAuditAll(t, filepath.Join(gbpDir(e), "audit")) {
		if strings.HasPrefix(ev.RequestID, bid+"-") && ev.Metered != "" && ev.PromptTokens+ev.CompletionTokens > 0 {
			charged++
		}
	}
	if reported := b.Completed + b.Failed; int64(charged) > reported {
		t.Errorf("the cancelled batch reports %d lines (%d completed, %d failed, %d tokens) but %d of its lines were charged",
			reported, b.Completed, b.Failed, b.PromptTokens+b.CompletionTokens, charged)
	}
}
