package auth

import (
	"errors"
	"fmt"
)

// ErrUnauthenticated means the request carries no valid credential (401).
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrForbidden means the principal may not perform the action (403).
var ErrForbidden = errors.New("forbidden")

// ErrNoCredentials means the request carries no credential at all; it wraps
// ErrUnauthenticated. RFC 6750 §3.1 asks for a WWW-Authenticate challenge
// without an error code in this case.
var ErrNoCredentials = fmt.Errorf("%w: no credentials", ErrUnauthenticated)

// ErrMalformed means a credential header could not be parsed; it wraps
// ErrUnauthenticated.
var ErrMalformed = fmt.Errorf("%w: malformed credentials", ErrUnauthenticated)

// ErrIssuerUnavailable means a token names a trusted external issuer whose
// signing keys cannot be used now: the issuer has been unreachable for
// longer than the keys may be trusted without a refresh (503, not the
// caller's fault).
var ErrIssuerUnavailable = errors.New("identity provider unavailable")

func unauthenticated(detail string) error {
	return fmt.Errorf("%w: %s", ErrUnauthenticated, detail)
}
