package sqlstore

import (
	"context"
	"fmt"

	"github.com/dsgate/dsgate/internal/store"
)

var _ store.CostOverrideStore = (*DB)(nil)

// PutCostOverride implements store.CostOverrideStore.
func (d *DB) PutCostOverride(ctx context.Context, o store.CostOverride) error {
	_, err := d.exec(ctx, `INSERT INTO cost_overrides (kind, name, body, updated_by, updated_at) VALUES (?,?,?,?,?)
		ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by,
			updated_at = excluded.updated_at`,
		o.Kind, o.Name, o.Body, o.UpdatedBy, micros(o.UpdatedAt))
	if err != nil {
		return fmt.Errorf("writing %s override: %w", o.Kind, err)
	}
	return nil
}

// ListCostOverrides implements store.CostOverrideStore.
func (d *DB) ListCostOverrides(ctx context.Context, kind string) ([]store.CostOverride, error) {
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT kind, name, body, updated_by, updated_at FROM cost_overrides
		WHERE kind = ? ORDER BY name`), kind)
	if err != nil {
		return nil, fmt.Errorf("listing %s overrides: %w", kind, err)
	}
	defer rows.Close()
	var out []store.CostOverride
	for rows.Next() {
		var (
			o       store.CostOverride
			updated int64
		)
		if err := rows.Scan(&o.Kind, &o.Name, &o.Body, &o.UpdatedBy, &updated); err != nil {
			return nil, fmt.Errorf("listing %s overrides: %w", kind, err)
		}
		o.UpdatedAt = fromMicros(updated)
		out = append(out, o)
	}
	return out, rows.Err()
}

// DeleteCostOverride implements store.CostOverrideStore.
func (d *DB) DeleteCostOverride(ctx context.Context, kind, name string) error {
	n, err := d.exec(ctx, `DELETE FROM cost_overrides WHERE kind = ? AND name = ?`, kind, name)
	if err != nil {
		return fmt.Errorf("deleting %s override: %w", kind, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", kind, name, store.ErrNotFound)
	}
	return nil
}
