package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

func clientTLS(ca *testCA, minV, maxV uint16) *tls.Config {
	return &tls.Config{RootCAs: ca.pool(), ServerName: "localhost", MinVersion: minV, MaxVersion: maxV}
}

func newTestReloader(t testing.TB, o Options) *Reloader {
	t.Helper()
	r, err := NewReloader(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVersions(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test CA")
	certFile, keyFile := serverFiles(t, ca, t.TempDir(), 1)

	def := startServer(t, ServerConfig(newTestReloader(t, Options{CertFile: certFile, KeyFile: keyFile})))
	if _, err := dial(t, def.addr, clientTLS(ca, tls.VersionTLS12, tls.VersionTLS12)); err == nil {
		t.Error("TLS 1.2 client accepted by the default (1.3) config")
	}
	c, err := dial(t, def.addr, clientTLS(ca, tls.VersionTLS12, tls.VersionTLS13))
	if err != nil {
		t.Fatalf("TLS 1.3 client: %v", err)
	}
	if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("negotiated %x, want TLS 1.3", v)
	}

	v12 := startServer(t, ServerConfig(newTestReloader(t, Options{CertFile: certFile, KeyFile: keyFile, MinVersion: "1.2"})))
	c, err = dial(t, v12.addr, clientTLS(ca, tls.VersionTLS12, tls.VersionTLS12))
	if err != nil {
		t.Fatalf("TLS 1.2 client with min 1.2: %v", err)
	}
	if v := c.ConnectionState().Version; v != tls.VersionTLS12 {
		t.Errorf("negotiated %x, want TLS 1.2", v)
	}
}

func TestRotationKeepsOldConnections(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := serverFiles(t, ca, dir, 1)
	r := newTestReloader(t, Options{CertFile: certFile, KeyFile: keyFile})
	srv := startServer(t, ServerConfig(r))
	cfg := clientTLS(ca, 0, 0)

	old, err := dial(t, srv.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s := servedSerial(old); s != 1 {
		t.Fatalf("served serial %d, want 1", s)
	}

	serverFiles(t, ca, dir, 2)
	if changed, err := r.Reload(); err != nil || !changed {
		t.Fatalf("Reload = %v, %v; want a change", changed, err)
	}
	if changed, err := r.Reload(); err != nil || changed {
		t.Fatalf("second Reload = %v, %v; want no change", changed, err)
	}
	fresh, err := dial(t, srv.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s := servedSerial(fresh); s != 2 {
		t.Errorf("new connection got serial %d, want 2", s)
	}
	if err := roundTrip(old); err != nil {
		t.Errorf("connection from before the rotation broke: %v", err)
	}
	if s := r.Leaf().SerialNumber.Int64(); s != 2 {
		t.Errorf("Leaf serial %d, want 2", s)
	}
}

func TestBrokenPairKeepsServing(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := serverFiles(t, ca, dir, 1)
	r := newTestReloader(t, Options{CertFile: certFile, KeyFile: keyFile})
	srv := startServer(t, ServerConfig(r))
	cfg := clientTLS(ca, 0, 0)
	goodKey, _ := os.ReadFile(keyFile)

	otherCert, _ := ca.issue(t, leafSpec{serial: 3, cn: "other", dns: []string{"localhost"}})
	expiredCert, expiredKey := ca.issue(t, leafSpec{serial: 4, cn: "old", dns: []string{"localhost"}, notAfter: time.Now().Add(-time.Minute)})
	tests := []struct {
		name      string
		cert, key []byte
		want      string
	}{
		{"garbage certificate", []byte("not a certificate"), goodKey, "loading"},
		{"certificate without its key", otherCert, goodKey, "private key does not match"},
		{"empty key", otherCert, nil, "loading"},
		{"expired certificate", expiredCert, expiredKey, "expired"},
	}
	for _, tt := range tests {
		writeAtomic(t, certFile, tt.cert)
		writeAtomic(t, keyFile, tt.key)
		if _, err := r.Reload(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Reload error %v, want one mentioning %q", tt.name, err, tt.want)
		}
		c, err := dial(t, srv.addr, cfg)
		if err != nil {
			t.Fatalf("%s: handshake after a refused reload: %v", tt.name, err)
		}
		if s := servedSerial(c); s != 1 {
			t.Errorf("%s: served serial %d, want the old 1", tt.name, s)
		}
	}
	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); err == nil {
		t.Error("missing certificate file accepted")
	}
	if _, err := dial(t, srv.addr, cfg); err != nil {
		t.Errorf("handshake with the file gone: %v", err)
	}
}

func TestRunPicksUpRotation(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := serverFiles(t, ca, dir, 1)
	r := newTestReloader(t, Options{CertFile: certFile, KeyFile: keyFile, ReloadInterval: 10 * time.Millisecond})
	srv := startServer(t, ServerConfig(r))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	serverFiles(t, ca, dir, 7)
	testkit.Eventually(t, 10*time.Second, "the rotated certificate to be served", func() bool {
		c, err := dial(t, srv.addr, clientTLS(ca, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		return servedSerial(c) == 7
	})
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	ca, rogue := newCA(t, "client CA"), newCA(t, "rogue CA")
	dir := t.TempDir()
	certFile, keyFile := serverFiles(t, ca, dir, 1)
	caFile := filepath.Join(dir, "client-ca.pem")
	writeAtomic(t, caFile, ca.pem)
	r := newTestReloader(t, Options{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile, ClientAuth: "require_and_verify"})
	srv := startServer(t, ServerConfig(r))

	if _, err := dial(t, srv.addr, clientTLS(ca, 0, 0)); err == nil {
		t.Error("client without a certificate accepted")
	}
	rogueCfg := clientTLS(ca, 0, 0)
	rogueCfg.Certificates = []tls.Certificate{rogue.clientCert(t, "intruder")}
	if _, err := dial(t, srv.addr, rogueCfg); err == nil {
		t.Error("client certificate from another CA accepted")
	}

	for len(srv.states) > 0 {
		<-srv.states
	}
	good := clientTLS(ca, 0, 0)
	good.Certificates = []tls.Certificate{ca.clientCert(t, "svc-billing")}
	if _, err := dial(t, srv.addr, good); err != nil {
		t.Fatalf("client certificate from the CA refused: %v", err)
	}
	state := <-srv.states
	if id, ok := PeerIdentity(&state); !ok || id != "svc-billing" {
		t.Errorf("PeerIdentity = %q, %v; want svc-billing", id, ok)
	}

	// Rotating the client CA file applies to new handshakes.
	writeAtomic(t, caFile, rogue.pem)
	if changed, err := r.Reload(); err != nil || !changed {
		t.Fatalf("Reload after CA rotation = %v, %v", changed, err)
	}
	if _, err := dial(t, srv.addr, rogueCfg); err != nil {
		t.Errorf("client of the new CA refused: %v", err)
	}
	if _, err := dial(t, srv.addr, good); err == nil {
		t.Error("client of the retired CA still accepted")
	}
}

func TestPeerIdentity(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "CA")
	parse := func(spec leafSpec) *tls.ConnectionState {
		c, k := ca.issue(t, spec)
		cert, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert.Leaf, ca.cert}}}
	}
	tests := []struct {
		name  string
		state *tls.ConnectionState
		want  string
		ok    bool
	}{
		{"nil", nil, "", false},
		{"unverified", &tls.ConnectionState{}, "", false},
		{"cn", parse(leafSpec{serial: 1, cn: "svc-a", uris: []string{"spiffe://x/y"}}), "svc-a", true},
		{"uri", parse(leafSpec{serial: 2, uris: []string{"spiffe://corp/ns/ml/sa/router"}, dns: []string{"a.example"}}), "spiffe://corp/ns/ml/sa/router", true},
		{"dns", parse(leafSpec{serial: 3, dns: []string{"b.example"}}), "b.example", true},
		{"nothing", parse(leafSpec{serial: 4}), "", false},
	}
	for _, tt := range tests {
		if id, ok := PeerIdentity(tt.state); id != tt.want || ok != tt.ok {
			t.Errorf("%s: PeerIdentity = %q, %v; want %q, %v", tt.name, id, ok, tt.want, tt.ok)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key, ca := filepath.Join(dir, "c"), filepath.Join(dir, "k"), filepath.Join(dir, "ca")
	for _, f := range []string{cert, key, ca} {
		os.WriteFile(f, []byte("x"), 0o600)
	}
	ok := Options{CertFile: cert, KeyFile: key}
	with := func(mod func(*Options)) Options { o := ok; mod(&o); return o }
	tests := []struct {
		name string
		o    Options
		want []string // substrings of the error; nil means valid
	}{
		{"defaults", ok, nil},
		{"min 1.2", with(func(o *Options) { o.MinVersion = "1.2" }), nil},
		{"mtls", with(func(o *Options) { o.ClientAuth = "require_and_verify"; o.ClientCAFile = ca }), nil},
		{"good 1.2 suites", with(func(o *Options) {
			o.MinVersion = "1.2"
			o.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"}
		}), nil},
		{"no files", Options{}, []string{"cert_file and key_file are both required"}},
		{"missing files", Options{CertFile: cert + "x", KeyFile: key + "x"}, []string{"cert_file:", "key_file:", "no such file"}},
		{"tls 1.0", with(func(o *Options) { o.MinVersion = "1.0" }), []string{"below 1.2 is insecure"}},
		{"tls 1.1", with(func(o *Options) { o.MinVersion = "1.1" }), []string{"below 1.2 is insecure"}},
		{"bogus version", with(func(o *Options) { o.MinVersion = "2" }), []string{"want 1.3 or 1.2"}},
		{"rc4", with(func(o *Options) { o.MinVersion = "1.2"; o.CipherSuites = []string{"TLS_ECDHE_RSA_WITH_RC4_128_SHA"} }), []string{"RC4"}},
		{"rsa kex", with(func(o *Options) { o.MinVersion = "1.2"; o.CipherSuites = []string{"TLS_RSA_WITH_AES_128_GCM_SHA256"} }), []string{"no forward secrecy"}},
		{"cbc", with(func(o *Options) {
			o.MinVersion = "1.2"
			o.CipherSuites = []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}
		}), []string{"CBC"}},
		{"unknown suite", with(func(o *Options) { o.MinVersion = "1.2"; o.CipherSuites = []string{"TLS_FOO"} }), []string{"unknown"}},
		{"suites with 1.3", with(func(o *Options) { o.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"} }), []string{"apply only to TLS 1.2"}},
		{"client auth without CA", with(func(o *Options) { o.ClientAuth = "require_and_verify" }), []string{"needs client_ca_file"}},
		{"request without CA", with(func(o *Options) { o.ClientAuth = "request" }), []string{"needs client_ca_file"}},
		{"CA without client auth", with(func(o *Options) { o.ClientCAFile = ca }), []string{"client_auth is none"}},
		{"bad client auth", with(func(o *Options) { o.ClientAuth = "yes" }), []string{"client_auth \"yes\""}},
		{"negative interval", with(func(o *Options) { o.ReloadInterval = -time.Second }), []string{"must not be negative"}},
		{"several at once", Options{MinVersion: "1.1", ClientAuth: "require"}, []string{"cert_file and key_file", "below 1.2", "needs client_ca_file"}},
	}
	for _, tt := range tests {
		err := Validate(tt.o)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tt.name, err, w)
			}
		}
	}
}

func TestNewReloaderRejectsBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c"), filepath.Join(dir, "k")
	os.WriteFile(cert, []byte("junk"), 0o600)
	os.WriteFile(key, []byte("junk"), 0o600)
	if _, err := NewReloader(Options{CertFile: cert, KeyFile: key}); err == nil {
		t.Fatal("junk pair accepted")
	}
}

func TestClientConfig(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "upstream CA")
	dir := t.TempDir()
	certFile, keyFile := serverFiles(t, ca, dir, 1)
	caFile := filepath.Join(dir, "ca.pem")
	writeAtomic(t, caFile, ca.pem)
	srv := startServer(t, ServerConfig(newTestReloader(t, Options{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile, ClientAuth: "require_and_verify"})))

	clientCert, clientKey := ca.issue(t, leafSpec{serial: 9, cn: "dsgate-upstream", client: true})
	cc, ck := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	writeAtomic(t, cc, clientCert)
	writeAtomic(t, ck, clientKey)
	cfg, err := ClientConfig(UpstreamOptions{CAFile: caFile, CertFile: cc, KeyFile: ck, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, srv.addr, cfg); err != nil {
		t.Fatalf("upstream mTLS: %v", err)
	}
	noCA, err := ClientConfig(UpstreamOptions{ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, srv.addr, noCA); err == nil {
		t.Error("server certificate from an unknown CA trusted")
	}
	for name, o := range map[string]UpstreamOptions{
		"cert without key": {CertFile: cc},
		"missing CA":       {CAFile: caFile + ".missing"},
		"CA not PEM":       {CAFile: ck},
		"tls 1.1":          {MinVersion: "1.1"},
	} {
		if _, err := ClientConfig(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkHandshake13 measures full TLS 1.3 handshakes (ECDSA P-256, no
// resumption) through a Reloader-backed server config over an in-memory pipe.
func BenchmarkHandshake13(b *testing.B) {
	ca := newCA(b, "bench CA")
	certFile, keyFile := serverFiles(b, ca, b.TempDir(), 1)
	srvCfg := ServerConfig(newTestReloader(b, Options{CertFile: certFile, KeyFile: keyFile}))
	cliCfg := clientTLS(ca, 0, 0)
	cliCfg.ClientSessionCache = nil
	b.ReportAllocs()
	for b.Loop() {
		c1, c2 := net.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- tls.Server(c1, srvCfg).Handshake() }()
		if err := tls.Client(c2, cliCfg).Handshake(); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		c1.Close()
		c2.Close()
	}
}
