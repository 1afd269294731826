package store

import "context"

// Limits are what an operator may change on an existing key or client:
// its model allow-list and rate limits (0: the role or global default).
type Limits struct {
	Models        []string
	RPM           int64
	TPM           int64
	MaxConcurrent int64
}

// LimitStore changes the limits of existing keys and clients. It is
// separate from KeyStore and ClientStore so that implementations without
// it keep working; the SQL stores have it.
type LimitStore interface {
	// SetKeyLimits replaces the key's models and limits (ErrNotFound).
	SetKeyLimits(ctx context.Context, id string, l Limits) error
	// SetClientLimits replaces the client's models and limits (ErrNotFound).
	SetClientLimits(ctx context.Context, id string, l Limits) error
}
