package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM cert and key for cn; server certs cover 127.0.0.1.
func (ca *testCA) issue(t *testing.T, cn string, serial int64, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func tlsClient(ca *testCA, max uint16, cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	cfg := &tls.Config{RootCAs: pool, MaxVersion: max}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
}

func TestTLSListener(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newCA(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c, k := ca.issue(t, "gateway-1", 10, false)
	writeFile(t, certFile, c)
	writeFile(t, keyFile, k)
	cfg := `
version: 1
server:
  listen: "127.0.0.1:0"
  tls: {cert_file: "` + certFile + `", key_file: "` + keyFile + `", reload_interval: 50ms}
log: {access: false}
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
`
	e := start(t, cfg, map[string]sim.Options{"a": {}})
	base := strings.Replace(e.base, "http://", "https://", 1)

	old := tlsClient(ca, 0, nil)
	resp, err := old.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) // read to the end so the connection is kept alive
	resp.Body.Close()
	if resp.TLS.Version != tls.VersionTLS13 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("version %x, HSTS %q", resp.TLS.Version, resp.Header.Get("Strict-Transport-Security"))
	}
	if _, err := tlsClient(ca, tls.VersionTLS12, nil).Get(base + "/healthz"); err == nil {
		t.Error("a TLS 1.2 client was accepted; the default minimum is 1.3")
	}

	// Rotate: new connections get the new certificate; the old keep-alive
	// connection goes on working.
	c2, k2 := ca.issue(t, "gateway-2", 11, false)
	writeFile(t, keyFile, k2)
	writeFile(t, certFile, c2)
	testkit.Eventually(t, 5*time.Second, "the new certificate", func() bool {
		r, err := tlsClient(ca, 0, nil).Get(base + "/healthz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.TLS.PeerCertificates[0].Subject.CommonName == "gateway-2"
	})
	resp, err = old.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("old connection broke after rotation: %v", err)
	}
	resp.Body.Close()
	if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != "gateway-1" {
		t.Errorf("old connection now sees %q; it should keep its handshake", cn)
	}
}

func TestMTLSIdentity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newCA(t)
	certFile, keyFile, caFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), filepath.Join(dir, "ca.pem")
	c, k := ca.issue(t, "gw", 20, false)
	writeFile(t, certFile, c)
	writeFile(t, keyFile, k)
	writeFile(t, caFile, ca.pem)
	kek := filepath.Join(dir, "kek")
	writeFile(t, kek, []byte(strings.Repeat("cd", 32)))
	cfg := `
version: 1
server:
  listen: "127.0.0.1:0"
  tls: {cert_file: "` + certFile + `", key_file: "` + keyFile + `", client_ca_file: "` + caFile + `", client_auth: verify_if_given}
grpc: {listen: "127.0.0.1:0"}
log: {access: false}
store: {dsn: "` + filepath.Join(dir, "db") + `"}
auth:
  enabled: true
  signing_key_encryption_key: "file:` + kek + `"
  mtls: {enabled: true, roles: {svc-a: developer}}
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
`
	e := start(t, cfg, map[string]sim.Options{"a": {}})
	base := strings.Replace(e.base, "http://", "https://", 1)
	cc, ck := ca.issue(t, "svc-a", 21, true)
	pair, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	uc, uk := ca.issue(t, "svc-unknown", 22, true)
	unknown, _ := tls.X509KeyPair(uc, uk)
	for _, tt := range []struct {
		name   string
		cert   *tls.Certificate
		status int
	}{{"mapped cert", &pair, 200}, {"no cert", nil, 401}, {"unmapped cert", &unknown, 401}} {
		resp, err := tlsClient(ca, 0, tt.cert).Post(base+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
		// The gRPC API, on the same TLS settings, identifies callers the same way.
		pool := x509.NewCertPool()
		pool.AddCert(ca.cert)
		tc := &tls.Config{RootCAs: pool}
		if tt.cert != nil {
			tc.Certificates = []tls.Certificate{*tt.cert}
		}
		conn, err := grpc.NewClient(e.srv.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(tc)))
		if err != nil {
			t.Fatal(err)
		}
		content := "hi"
		_, err = pb.NewInferenceServiceClient(conn).ChatCompletion(context.Background(), &pb.ChatCompletionRequest{
			Model: "deepseek-chat", Messages: []*pb.Message{{Role: "user", Content: &content}}})
		conn.Close()
		if want := (tt.status == 200); (err == nil) != want {
			t.Errorf("%s over gRPC: err %v", tt.name, err)
		}
	}
}
