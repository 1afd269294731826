package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dsgate/dsgate/internal/store"
)

var _ store.ResponseStore = (*DB)(nil)

// PutResponse stores r, replacing the owner's response with the same id
// (a cached answer repeats its id).
func (d *DB) PutResponse(ctx context.Context, r store.StoredResponse) error {
	_, err := d.exec(ctx, `INSERT INTO stored_responses (owner, id, model, input, response, created_at) VALUES (?,?,?,?,?,?)
		ON CONFLICT (owner, id) DO UPDATE SET model = excluded.model, input = excluded.input,
		response = excluded.response, created_at = excluded.created_at`,
		r.Owner, r.ID, r.Model, r.Input, r.Response, micros(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("storing response %s: %w", r.ID, err)
	}
	return nil
}

// Response returns owner's response id.
func (d *DB) Response(ctx context.Context, owner, id string) (store.StoredResponse, error) {
	r := store.StoredResponse{Owner: owner, ID: id}
	var created int64
	err := d.r.QueryRowContext(ctx, d.q(`SELECT model, input, response, created_at FROM stored_responses WHERE owner = ? AND id = ?`),
		owner, id).Scan(&r.Model, &r.Input, &r.Response, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("response %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("reading response %s: %w", id, err)
	}
	r.CreatedAt = fromMicros(created)
	return r, nil
}

// DeleteResponse removes owner's response id.
func (d *DB) DeleteResponse(ctx context.Context, owner, id string) error {
	n, err := d.exec(ctx, `DELETE FROM stored_responses WHERE owner = ? AND id = ?`, owner, id)
	if err != nil {
		return fmt.Errorf("deleting response %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("response %s: %w", id, store.ErrNotFound)
	}
	return nil
}
