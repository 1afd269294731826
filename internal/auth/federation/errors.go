package federation

import (
	"fmt"

	"github.com/dsgate/dsgate/internal/auth"
)

func unauthenticated(issuer, detail string) error {
	return fmt.Errorf("%w: token from issuer %s: %s", auth.ErrUnauthenticated, issuer, detail)
}

func forbidden(issuer, detail string) error {
	return fmt.Errorf("%w: token from issuer %s: %s", auth.ErrForbidden, issuer, detail)
}
