package tlsconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"
)

// DefaultReloadInterval is how often a Reloader polls its files when
// Options.ReloadInterval is zero.
const DefaultReloadInterval = 5 * time.Second

// Options configure a TLS listener.
type Options struct {
	// CertFile and KeyFile hold the PEM certificate chain and private key.
	CertFile, KeyFile string
	// ClientCAFile holds PEM CA certificates that sign client certificates
	// (mTLS). Required when ClientAuth is not "none".
	ClientCAFile string
	// ClientAuth is none (default), request, require, verify_if_given or
	// require_and_verify. Only the verify modes check the chain against
	// ClientCAFile; PeerIdentity reports an identity only for verified
	// chains, so request and require never yield one.
	ClientAuth string
	// MinVersion is "1.3" (default) or "1.2", which must be set explicitly.
	MinVersion string
	// CipherSuites names TLS 1.2 suites (Go names, e.g.
	// TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384); empty means Go's defaults.
	// Only ECDHE AEAD suites are accepted. TLS 1.3 suites are not
	// configurable in Go and are all secure.
	CipherSuites []string
	// NextProtos are the ALPN protocols offered; nil means h2 and http/1.1.
	NextProtos []string
	// ReloadInterval is how often Run polls the files; 0 means 5s.
	ReloadInterval time.Duration
	// Logger receives rotation and refusal messages; nil discards them.
	Logger *slog.Logger
}

// clientAuthType maps an Options.ClientAuth value to crypto/tls's type.
func clientAuthType(mode string) (tls.ClientAuthType, bool) {
	switch mode {
	case "", "none":
		return tls.NoClientCert, true
	case "request":
		return tls.RequestClientCert, true
	case "require":
		return tls.RequireAnyClientCert, true
	case "verify_if_given":
		return tls.VerifyClientCertIfGiven, true
	case "require_and_verify":
		return tls.RequireAndVerifyClientCert, true
	}
	return 0, false
}

// Validate reports every unsafe or inconsistent setting in o, joined with
// errors.Join, each saying why. It checks that the named files exist.
func Validate(o Options) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if o.CertFile == "" || o.KeyFile == "" {
		add("cert_file and key_file are both required to serve TLS")
	}
	for _, f := range []struct{ name, path string }{
		{"cert_file", o.CertFile}, {"key_file", o.KeyFile}, {"client_ca_file", o.ClientCAFile},
	} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(f.path); err != nil {
			add("%s: %w", f.name, err)
		} else if st.IsDir() {
			add("%s: %s is a directory", f.name, f.path)
		}
	}

	minVersion, err := parseMinVersion(o.MinVersion)
	if err != nil {
		errs = append(errs, err)
	}

	auth, ok := clientAuthType(o.ClientAuth)
	switch {
	case !ok:
		add("client_auth %q: want none, request, require, verify_if_given or require_and_verify", o.ClientAuth)
	case auth != tls.NoClientCert && o.ClientCAFile == "":
		add("client_auth %s needs client_ca_file: without a CA, client certificates cannot be verified", o.ClientAuth)
	case auth == tls.NoClientCert && o.ClientCAFile != "":
		add("client_ca_file is set but client_auth is none: set client_auth to require_and_verify (or verify_if_given) to use it")
	}

	if len(o.CipherSuites) > 0 {
		if err == nil && minVersion == tls.VersionTLS13 {
			add("cipher_suites apply only to TLS 1.2, and min_version is 1.3: remove them, or set min_version 1.2")
		}
		if _, err := parseCipherSuites(o.CipherSuites); err != nil {
			errs = append(errs, err)
		}
	}
	if o.ReloadInterval < 0 {
		add("reload_interval %s: must not be negative", o.ReloadInterval)
	}
	return errors.Join(errs...)
}

func parseMinVersion(v string) (uint16, error) {
	switch v {
	case "", "1.3":
		return tls.VersionTLS13, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.0", "1.1", "1", "ssl3":
		return 0, fmt.Errorf("min_version %s: TLS below 1.2 is insecure (deprecated by RFC 8996) and refused", v)
	}
	return 0, fmt.Errorf("min_version %q: want 1.3 or 1.2", v)
}

// parseCipherSuites maps names to ids, accepting only suites with forward
// secrecy (ECDHE) and authenticated encryption (GCM or ChaCha20-Poly1305).
func parseCipherSuites(names []string) ([]uint16, error) {
	known := map[string]*tls.CipherSuite{}
	for _, s := range tls.CipherSuites() {
		known[s.Name] = s
	}
	insecure := map[string]bool{}
	for _, s := range tls.InsecureCipherSuites() {
		insecure[s.Name] = true
	}
	var ids []uint16
	var errs []error
	for _, name := range names {
		s, ok := known[name]
		if !ok && !insecure[name] {
			errs = append(errs, fmt.Errorf("cipher suite %q is unknown (use Go names such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)", name))
			continue
		}
		if ok && !slices.Contains(s.SupportedVersions, tls.VersionTLS12) {
			errs = append(errs, fmt.Errorf("cipher suite %s is a TLS 1.3 suite, which Go does not let you configure", name))
			continue
		}
		if why := suiteWeakness(name); why != "" {
			errs = append(errs, fmt.Errorf("cipher suite %s %s and is refused", name, why))
			continue
		}
		if insecure[name] {
			errs = append(errs, fmt.Errorf("cipher suite %s is marked insecure by Go and is refused", name))
			continue
		}
		ids = append(ids, s.ID)
	}
	return ids, errors.Join(errs...)
}

// suiteWeakness says why a TLS 1.2 suite is unacceptable, or "".
func suiteWeakness(name string) string {
	switch {
	case strings.Contains(name, "_RC4_"):
		return "uses the broken RC4 cipher"
	case strings.Contains(name, "_3DES_"):
		return "uses 3DES (64-bit blocks, Sweet32)"
	case !strings.HasPrefix(name, "TLS_ECDHE_"):
		return "has no forward secrecy (RSA key exchange)"
	case strings.Contains(name, "_CBC_"):
		return "uses CBC mode (padding-oracle prone)"
	}
	return ""
}
