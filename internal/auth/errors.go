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

func unauthenticated(detail string) error {
	return fmt.Errorf("%w: %s", ErrUnauthenticated, detail)
}
