package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// UpstreamOptions configure TLS towards an upstream (DeepSeek cloud or a
// local engine behind TLS).
type UpstreamOptions struct {
	// CAFile holds PEM CAs to trust instead of the system roots.
	CAFile string
	// CertFile and KeyFile, both or neither, hold a client certificate for
	// upstreams that require mTLS.
	CertFile, KeyFile string
	// ServerName overrides the name verified in the upstream's certificate.
	ServerName string
	// InsecureSkipVerify disables certificate verification. Only for tests
	// against self-signed engines on a trusted network; never in production.
	InsecureSkipVerify bool
	// MinVersion is "1.2" (default for upstreams, which are often older
	// engines) or "1.3".
	MinVersion string
}

// ClientConfig builds the client config for an upstream.
func ClientConfig(o UpstreamOptions) (*tls.Config, error) {
	minVersion := uint16(tls.VersionTLS12)
	if o.MinVersion != "" {
		v, err := parseMinVersion(o.MinVersion)
		if err != nil {
			return nil, err
		}
		minVersion = v
	}
	cfg := &tls.Config{
		MinVersion:         minVersion,
		ServerName:         o.ServerName,
		InsecureSkipVerify: o.InsecureSkipVerify, //nolint:gosec // explicit, documented opt-in
	}
	if o.CAFile != "" {
		b, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("upstream ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("upstream ca_file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.CertFile != "" && o.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("upstream client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case o.CertFile != "" || o.KeyFile != "":
		return nil, errors.New("upstream cert_file and key_file must be set together")
	}
	return cfg, nil
}

// PeerIdentity returns the identity in the peer's verified certificate: its
// Subject CN, else its first URI SAN (e.g. a SPIFFE id), else its first DNS
// SAN. It reports ok only when the chain was verified against the client CAs
// (ClientAuth verify_if_given or require_and_verify), so an unverified
// certificate never names a principal.
func PeerIdentity(state *tls.ConnectionState) (subject string, ok bool) {
	if state == nil || len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) == 0 {
		return "", false
	}
	leaf := state.VerifiedChains[0][0]
	switch {
	case leaf.Subject.CommonName != "":
		return leaf.Subject.CommonName, true
	case len(leaf.URIs) > 0:
		return leaf.URIs[0].String(), true
	case len(leaf.DNSNames) > 0:
		return leaf.DNSNames[0], true
	}
	return "", false
}
