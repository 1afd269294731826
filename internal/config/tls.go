package config

import "time"

// TLS configures a listener's TLS. With cert_file and key_file set the
// listener speaks only TLS, 1.3 by default; the files are re-read when they
// change, so certificates rotate without a restart or dropped connections.
type TLS struct {
	// CertFile is the PEM certificate chain.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile signs the client certificates accepted for mTLS.
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth is none (default), request, require, verify_if_given or
	// require_and_verify.
	ClientAuth string `yaml:"client_auth"`
	// MinVersion is 1.3 (default) or 1.2, which must be set explicitly.
	MinVersion string `yaml:"min_version"`
	// CipherSuites for TLS 1.2 (Go names); only ECDHE AEAD suites are
	// accepted. Empty: Go's defaults.
	CipherSuites []string `yaml:"cipher_suites"`
	// ReloadInterval between checks of the files. Default 5s.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// Enabled reports whether the listener uses TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// UpstreamTLS configures TLS to an upstream.
type UpstreamTLS struct {
	// CAFile holds the CAs to trust instead of the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile: a client certificate for upstreams that
	// require mTLS.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the client certificate's private key.
	KeyFile string `yaml:"key_file"`
	// ServerName overrides the name checked in the upstream's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify turns verification off: tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// MTLS maps verified client certificates to principals: a caller that
// presents one and no API key or token is authenticated by it.
type MTLS struct {
	// Enabled turns certificate authentication on.
	Enabled bool `yaml:"enabled"`
	// Roles maps a certificate subject (its CN, or first URI/DNS name) to
	// a role.
	Roles map[string]string `yaml:"roles"`
	// DefaultRole for subjects not in roles; empty refuses them.
	DefaultRole string `yaml:"default_role"`
}
