package federation

import (
	"crypto/x509"
	"errors"
)

// systemPoolWith returns the system roots plus the certificates in pem.
func systemPoolWith(pem []byte) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificates")
	}
	return pool, nil
}
