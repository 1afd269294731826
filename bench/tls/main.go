// Command tls measures what TLS costs the gateway: the same gateway and
// simulator served over plain HTTP and over TLS 1.3, on keep-alive
// connections (the steady state: record encryption only) and with a new
// connection per request (every request pays a full handshake).
//
//	go run ./bench/tls                 # 3 s per cell
//	go run ./bench/tls -d 10s
//
// The gateway runs alone on CPU 0, the simulator and this client on CPU 1.
// Everything listens on 127.0.0.1 and stops by itself.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

func main() {
	dur := flag.Duration("d", 3*time.Second, "measured time per cell")
	bin := flag.String("dsgate", "", "dsgate binary (default: build ./cmd/dsgate)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "dsgate-tls-bench")
	check(err)
	defer os.RemoveAll(dir)
	if *bin == "" {
		*bin, err = benchkit.BuildDsgate(ctx, dir)
		check(err)
	}
	check(benchkit.PinSelf(1))
	pool, certFile, keyFile := selfSigned(dir)

	simAddr, err := benchkit.FreeAddr()
	check(err)
	sim, err := benchkit.StartPinned(dir, "sim", 1, *bin, "sim", "--addr", simAddr, "--max-tokens", "16")
	check(err)
	defer sim.Stop()
	check(sim.WaitHTTP(ctx, "http://"+simAddr+"/health"))

	plainAddr, tlsAddr := start(ctx, dir, *bin, simAddr, "", ""), start(ctx, dir, *bin, simAddr, certFile, keyFile)
	fmt.Printf("### TLS cost (%s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Println("| transport | connections | c | req/s | p50 ms | p99 ms |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for _, c := range []int{1, 16} {
		for _, keep := range []bool{true, false} {
			for _, t := range []struct{ name, url string }{{"HTTP", "http://" + plainAddr}, {"TLS 1.3", "https://" + tlsAddr}} {
				rps, p50, p99 := run(t.url, pool, c, keep, *dur)
				conns := "keep-alive"
				if !keep {
					conns = "new per request"
				}
				fmt.Printf("| %s | %s | %d | %.0f | %.3f | %.3f |\n", t.name, conns, c, rps, p50, p99)
			}
		}
	}
}

// start runs one gateway (TLS when cert is set) pinned to CPU 0.
func start(ctx context.Context, dir, bin, simAddr, cert, key string) string {
	addr, err := benchkit.FreeAddr()
	check(err)
	tlsYAML, scheme := "", "http"
	if cert != "" {
		tlsYAML, scheme = fmt.Sprintf(", tls: {cert_file: %q, key_file: %q}", cert, key), "https"
	}
	cfg := fmt.Sprintf("version: 1\nserver: {listen: %q%s}\nlog: {access: false}\nmetrics: {disabled: true}\n"+
		"upstreams:\n  - {name: sim, kind: openai, url: \"http://%s\"}\nmodels:\n  - {name: deepseek-chat, targets: [{upstream: sim}]}\n",
		addr, tlsYAML, simAddr)
	path := filepath.Join(dir, scheme+".yaml")
	check(os.WriteFile(path, []byte(cfg), 0o600))
	p, err := benchkit.StartPinned(dir, "gateway-"+scheme, 0, bin, "serve", "--config", path)
	check(err)
	go func() { <-ctx.Done(); p.Stop() }()
	for i := 0; i < 200; i++ { // wait for the port
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(25 * time.Millisecond)
	}
	log.Fatalf("gateway %s did not start:\n%s", scheme, p.Tail())
	return ""
}

// run sends chat requests from c workers for d and returns req/s and the
// p50 and p99 latency in ms.
func run(base string, pool *x509.CertPool, c int, keep bool, d time.Duration) (float64, float64, float64) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13},
		MaxIdleConnsPerHost: c, DisableKeepAlives: !keep}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	body := `{"model":"deepseek-chat","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	var mu sync.Mutex
	var lat []time.Duration
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(end) {
				t0 := time.Now()
				resp, err := client.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					log.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	return float64(len(lat)) / d.Seconds(), ms(0.5), ms(0.99)
}

// selfSigned writes a P-256 certificate for 127.0.0.1 and returns a pool
// that trusts it.
func selfSigned(dir string) (*x509.CertPool, string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	check(err)
	kb, err := x509.MarshalECPrivateKey(key)
	check(err)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	check(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	check(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	cert, err := x509.ParseCertificate(der)
	check(err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, certFile, keyFile
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
