package federation

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
)

// Federation is the set of trusted external issuers; it implements
// auth.ExternalVerifier. It is safe for concurrent use.
type Federation struct {
	byIssuer map[string]*Issuer
	list     []*Issuer
}

var _ auth.ExternalVerifier = (*Federation)(nil)

// New builds the issuers of opts. Two issuers may not share an iss.
func New(opts []IssuerOptions) (*Federation, error) {
	f := &Federation{byIssuer: make(map[string]*Issuer, len(opts))}
	for _, o := range opts {
		is, err := NewIssuer(o)
		if err != nil {
			return nil, err
		}
		if _, dup := f.byIssuer[o.Issuer]; dup {
			return nil, fmt.Errorf("external issuer %s: issuer %q is configured twice", o.Name, o.Issuer)
		}
		f.byIssuer[o.Issuer] = is
		f.list = append(f.list, is)
	}
	return f, nil
}

// Issuers returns the issuers in configuration order.
func (f *Federation) Issuers() []*Issuer { return f.list }

// Issuer returns the issuer called name.
func (f *Federation) Issuer(name string) (*Issuer, bool) {
	for _, is := range f.list {
		if is.opts.Name == name {
			return is, true
		}
	}
	return nil, false
}

// Trusts reports whether raw's iss (not verified) names one of the
// issuers.
func (f *Federation) Trusts(raw string) bool {
	_, ok := f.byIssuer[peekIssuer(raw)]
	return ok
}

// VerifyExternal implements auth.ExternalVerifier.
func (f *Federation) VerifyExternal(ctx context.Context, raw string) (*auth.Principal, bool, error) {
	is, ok := f.byIssuer[peekIssuer(raw)]
	if !ok {
		return nil, false, nil
	}
	p, err := is.Authenticate(ctx, raw)
	return p, true, err
}

// AuthenticateExternal is VerifyExternal with a token of another issuer
// refused (401).
func (f *Federation) AuthenticateExternal(ctx context.Context, raw string) (*auth.Principal, error) {
	p, ok, err := f.VerifyExternal(ctx, raw)
	if !ok {
		return nil, fmt.Errorf("%w: untrusted issuer", auth.ErrUnauthenticated)
	}
	return p, err
}

// Close stops every issuer's key refreshes.
func (f *Federation) Close() error {
	for _, is := range f.list {
		is.close()
	}
	return nil
}

// NewHTTPClient returns a client for an issuer's discovery and keys that
// trusts the PEM CAs in caFile (besides the system's) and, when tokenFile
// is set, sends its content as a bearer token, re-read on every request
// (a Kubernetes API server serves its JWKS only to authenticated callers
// unless configured otherwise, and projected tokens rotate).
func NewHTTPClient(caFile, tokenFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool, err := systemPoolWith(pem)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", caFile, err)
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	var rt http.RoundTripper = tr
	if tokenFile != "" {
		rt = bearerFromFile{file: tokenFile, next: tr}
	}
	return &http.Client{Transport: rt, Timeout: 10 * time.Second}, nil
}

type bearerFromFile struct {
	file string
	next http.RoundTripper
}

func (b bearerFromFile) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := os.ReadFile(b.file)
	if err != nil {
		return nil, fmt.Errorf("reading bearer token: %w", err)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	return b.next.RoundTrip(r)
}
