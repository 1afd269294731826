package sqlstore

import (
	"context"
	"fmt"

	"github.com/dsgate/dsgate/internal/store"
)

// SetKeyLimits implements store.LimitStore.
func (d *DB) SetKeyLimits(ctx context.Context, id string, l store.Limits) error {
	return d.setLimits(ctx, "api_keys", id, l)
}

// SetClientLimits implements store.LimitStore.
func (d *DB) SetClientLimits(ctx context.Context, id string, l store.Limits) error {
	return d.setLimits(ctx, "oauth_clients", id, l)
}

func (d *DB) setLimits(ctx context.Context, table, id string, l store.Limits) error {
	n, err := d.exec(ctx, `UPDATE `+table+` SET models = ?, rpm = ?, tpm = ?, max_concurrent = ? WHERE id = ?`,
		encodeList(l.Models), l.RPM, l.TPM, l.MaxConcurrent, id)
	if err != nil {
		return fmt.Errorf("setting limits of %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", id, store.ErrNotFound)
	}
	return nil
}
