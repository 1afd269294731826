package grpcapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/dsgate/dsgate/internal/access"
	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/grpcapi"
	"github.com/dsgate/dsgate/internal/sim"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dsgate-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestTLS(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{}) // for its gateway
	cert, pool := selfSigned(t)
	srv := grpcapi.New(grpcapi.Options{
		Backend: func() grpcapi.Backend { return e.gw },
		Access:  access.New(access.Options{Disabled: true}),
		TLS:     &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := pb.NewInferenceServiceClient(conn).ChatCompletion(context.Background(), userChat("deepseek-chat", "over TLS"))
	if err != nil || resp.Choices[0].Message.GetContent() == "" {
		t.Fatalf("over TLS: %v %v", resp, err)
	}
	// A client that does not trust the certificate fails the handshake.
	bad, _ := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{})))
	defer bad.Close()
	if _, err := pb.NewInferenceServiceClient(bad).ListModels(context.Background(), &pb.ListModelsRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("untrusted client: %v", err)
	}
}

// TestMidStreamFailure: an upstream stream cut after some events ends the
// gRPC stream with an error event and then the mapped status.
func TestMidStreamFailure(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{sim: sim.Options{Faults: sim.Faults{CutAfterChunks: 3}}})
	st, err := e.client.StreamChatCompletion(as(keyAdmin), &pb.StreamChatCompletionRequest{
		Request: &pb.ChatCompletionRequest{Model: "deepseek-chat", MaxTokens: ptr[int32](20),
			Messages: []*pb.Message{{Role: "user", Content: ptr("hi")}}}})
	if err != nil {
		t.Fatal(err)
	}
	var deltas int
	var last *pb.StreamChatCompletionResponse
	for {
		ev, err := st.Recv()
		if err == io.EOF {
			t.Fatal("stream ended OK after an upstream cut")
		}
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Errorf("status %v, want Unavailable (HTTP 502)", err)
			}
			break
		}
		if ev.GetDelta() != nil {
			deltas++
		}
		last = ev
	}
	if deltas == 0 || last.GetError() == nil || last.GetError().HttpStatus != 502 {
		t.Errorf("%d deltas, last event %v", deltas, last)
	}
}
