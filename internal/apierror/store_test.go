package apierror

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/store"
)

// A store that cannot be reached is a quick 503 the client may retry, not
// a 500, nor a 504 when the connection attempt timed out; the message
// names no address.
func TestFromStoreUnavailable(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		fmt.Errorf("reading API key: %w", fmt.Errorf("%w: dial 10.1.2.3:5432: connection refused", store.ErrUnavailable)),
		fmt.Errorf("reading API key: %w", fmt.Errorf("%w: connect: %w", store.ErrUnavailable, context.DeadlineExceeded)),
	} {
		e := From(err)
		if e.Status != 503 || e.Code != "store_unavailable" || e.Type != "service_unavailable_error" {
			t.Errorf("From(%v) = %d %s %s, want 503 service_unavailable_error store_unavailable", err, e.Status, e.Type, e.Code)
		}
		if strings.Contains(e.Message, "10.1.2.3") {
			t.Errorf("message leaks the address: %q", e.Message)
		}
	}
}
