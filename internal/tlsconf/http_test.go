package tlsconf

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHTTPServerNegotiatesHTTP2 checks that the per-generation configs
// returned by GetConfigForClient keep ALPN working with net/http.
func TestHTTPServerNegotiatesHTTP2(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test CA")
	certFile, keyFile := serverFiles(t, ca, t.TempDir(), 5)
	r := newTestReloader(t, Options{CertFile: certFile, KeyFile: keyFile})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Write([]byte(req.Proto))
	}))
	srv.TLS = ServerConfig(r)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	tr := &http.Transport{TLSClientConfig: clientTLS(ca, 0, 0), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("negotiated %s, want HTTP/2", resp.Proto)
	}
	if s := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); s != 5 {
		t.Errorf("served serial %d, want the reloader's 5", s)
	}
}
