package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
)

// BootstrapKeyName names the key imported from auth.bootstrap_admin_key.
const BootstrapKeyName = "bootstrap-admin"

// BootstrapResult says what ImportBootstrapKey did.
type BootstrapResult int

// Outcomes of ImportBootstrapKey.
const (
	// BootstrapCreated: the key was stored as a new admin key.
	BootstrapCreated BootstrapResult = iota
	// BootstrapPresent: a key with its id exists with the same secret
	// (another replica or an earlier start imported it). Its record,
	// including a revocation, is left as it is.
	BootstrapPresent
	// BootstrapMismatch: a key with its id exists with another secret;
	// nothing was changed and the configured key will not authenticate.
	BootstrapMismatch
)

// ErrBadBootstrapKey means the configured bootstrap key is not a dsgate
// API key.
var ErrBadBootstrapKey = errors.New("bootstrap admin key is not a dsgate API key (dsg_<id>_<secret>)")

// ImportBootstrapKey stores full (an operator-generated API key, see
// auth.NewAPIKey and `dsgate keys generate`) as an admin key unless a key
// with its id exists. It is idempotent: restarts and replicas starting at
// once import it exactly once (the store refuses a second record with the
// same id), and a revoked bootstrap key stays revoked.
func ImportBootstrapKey(ctx context.Context, st store.KeyStore, full string, now time.Time) (BootstrapResult, string, error) {
	id, secret, ok := auth.ParseAPIKey(full)
	if !ok || len(secret) < 32 {
		return 0, "", ErrBadBootstrapKey
	}
	sum := sha256.Sum256([]byte(secret))
	k := store.Key{ID: id, Name: BootstrapKeyName, Role: "admin", Hash: sum[:], CreatedAt: now.UTC()}
	err := st.CreateKey(ctx, k)
	if err == nil {
		return BootstrapCreated, id, nil
	}
	if !errors.Is(err, store.ErrConflict) {
		return 0, id, fmt.Errorf("importing bootstrap admin key: %w", err)
	}
	old, err := st.Key(ctx, id)
	if err != nil {
		return 0, id, fmt.Errorf("reading bootstrap admin key: %w", err)
	}
	if subtle.ConstantTimeCompare(old.Hash, sum[:]) != 1 {
		return BootstrapMismatch, id, nil
	}
	return BootstrapPresent, id, nil
}
