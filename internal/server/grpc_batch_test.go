package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

// TestGRPCAndBatchWired checks that dsgate serve mounts the gRPC API, the
// synchronous batch endpoint and the OpenAI Files and Batch APIs, and that
// gRPC calls reach the same metrics as HTTP ones.
func TestGRPCAndBatchWired(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
store: {dsn: "` + filepath.Join(dir, "db") + `"}
grpc: {listen: "127.0.0.1:0"}
batch: {api: true, dir: "` + filepath.Join(dir, "files") + `"}
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
`
	e := start(t, cfg, map[string]sim.Options{"a": {}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	content := "hi"
	out, err := grpcClient(t, e).ChatCompletion(ctx, &pb.ChatCompletionRequest{
		Model: "deepseek-chat", Messages: []*pb.Message{{Role: "user", Content: &content}}})
	if err != nil || len(out.GetChoices()) == 0 {
		t.Fatalf("gRPC chat: %v", err)
	}

	resp, body := e.post(t, "/v1/batch", `{"model":"deepseek-chat","requests":[{"id":"a","prompt":"one"},{"id":"b","model":"nope","prompt":"two"}]}`)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"id":"a"`)) || !bytes.Contains(body, []byte("model_not_found")) {
		t.Fatalf("/v1/batch: %d %s", resp.StatusCode, body)
	}

	c := e.cl()
	line := `{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}]}}` + "\n"
	f, err := c.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader(line), "in.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeBatch})
	if err != nil {
		t.Fatalf("file upload: %v", err)
	}
	b, err := c.Batches.New(ctx, openai.BatchNewParams{InputFileID: f.ID, Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
	if err != nil {
		t.Fatalf("batch create: %v", err)
	}
	testkit.Eventually(t, 15*time.Second, "the batch to complete", func() bool {
		got, err := c.Batches.Get(ctx, b.ID)
		return err == nil && got.Status == openai.BatchStatusCompleted
	})

	mr, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(mr.Body)
	mr.Body.Close()
	if !bytes.Contains(page, []byte(`route="GRPC /dsgate.v1.InferenceService/ChatCompletion"`)) {
		t.Error("gRPC call missing from metrics")
	}
}

// grpcClient is an inference client on e's plaintext gRPC listener, closed
// with the test.
func grpcClient(t *testing.T, e *env) pb.InferenceServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(e.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewInferenceServiceClient(conn)
}
