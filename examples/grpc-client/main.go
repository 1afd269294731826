// Command grpc-client streams a chat completion from dsgate's gRPC API and
// prints the reasoning and the answer as they arrive, then the usage.
//
// Against the quick start (gRPC on 127.0.0.1:8081, auth off):
//
//	go run ./examples/grpc-client "explain quantum computing"
//
// Against a gateway with auth on, pass a key (-key, default $DSGATE_API_KEY)
// and its grpc.listen address:
//
//	go run ./examples/grpc-client -addr 127.0.0.1:8081 -key "$DSGATE_API_KEY" "explain quantum computing"
//
// With -tls it verifies the server certificate against the system roots
// (or -ca FILE). Ctrl-C cancels the call, which cancels the upstream request.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "gRPC address of dsgate (the quick start's grpc.listen)")
	key := flag.String("key", os.Getenv("DSGATE_API_KEY"), "API key or access token (default $DSGATE_API_KEY)")
	model := flag.String("model", "deepseek-v4-flash", "model")
	maxTokens := flag.Int("max-tokens", 256, "max_tokens")
	useTLS := flag.Bool("tls", false, "use TLS")
	ca := flag.String("ca", "", "PEM file of the CA that signed the server certificate")
	flag.Parse()
	prompt := strings.Join(flag.Args(), " ")
	if prompt == "" {
		prompt = "Say hello."
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *key, *model, prompt, int32(*maxTokens), *useTLS, *ca); err != nil {
		fmt.Fprintln(os.Stderr, "error:", describe(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, key, model, prompt string, maxTokens int32, useTLS bool, ca string) error {
	creds := insecure.NewCredentials()
	if useTLS {
		conf := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return err
			}
			conf.RootCAs = x509.NewCertPool()
			if !conf.RootCAs.AppendCertsFromPEM(pem) {
				return errors.New("no certificate in " + ca)
			}
		}
		creds = credentials.NewTLS(conf)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := pb.NewInferenceServiceClient(conn)
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	stream, err := client.StreamChatCompletion(ctx, &pb.StreamChatCompletionRequest{
		Request: &pb.ChatCompletionRequest{
			Model:     model,
			Messages:  []*pb.Message{{Role: "user", Content: &prompt}},
			MaxTokens: &maxTokens,
		},
		IncludeUsage: true,
	})
	if err != nil {
		return err
	}
	inReasoning := false
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch e := ev.Event.(type) {
		case *pb.StreamChatCompletionResponse_Delta_:
			if r := e.Delta.GetReasoningContent(); r != "" {
				if !inReasoning {
					fmt.Print("[thinking] ")
					inReasoning = true
				}
				fmt.Print(r)
			}
			if c := e.Delta.GetContent(); c != "" {
				if inReasoning {
					fmt.Print("\n[answer] ")
					inReasoning = false
				}
				fmt.Print(c)
			}
			for _, tc := range e.Delta.GetToolCalls() {
				fmt.Printf("\n[tool call %d] %s%s", tc.Index, tc.GetName(), tc.Arguments)
			}
		case *pb.StreamChatCompletionResponse_Usage:
			u := e.Usage
			fmt.Printf("\n[usage] prompt %d, completion %d, total %d", u.PromptTokens, u.CompletionTokens, u.TotalTokens)
		case *pb.StreamChatCompletionResponse_Finish_:
			fmt.Printf("\n[finish] %s\n", e.Finish.RawReason)
		case *pb.StreamChatCompletionResponse_Error:
			fmt.Printf("\n[error] %d %s: %s\n", e.Error.HttpStatus, e.Error.Type, e.Error.Message)
		}
	}
}

// describe renders a status error with its ErrorInfo and RetryInfo.
func describe(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	s := st.Code().String() + ": " + st.Message()
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			s += fmt.Sprintf(" (reason %s, http %s)", d.Reason, d.Metadata["http_status"])
		case *errdetails.RetryInfo:
			s += fmt.Sprintf(" (retry after %s)", d.RetryDelay.AsDuration())
		}
	}
	return s
}
