package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dsgate/dsgate/internal/store"
)

var _ store.BatchStore = (*DB)(nil)

const fileColumns = `id, owner, filename, purpose, bytes, created_at, expires_at`

// CreateBatchFile stores f; an existing id yields store.ErrConflict.
func (d *DB) CreateBatchFile(ctx context.Context, f store.BatchFile) error {
	n, err := d.exec(ctx, `INSERT INTO batch_files (`+fileColumns+`) VALUES (?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING`,
		f.ID, f.Owner, f.Filename, f.Purpose, f.Bytes, micros(f.CreatedAt), micros(f.ExpiresAt))
	if err != nil {
		return fmt.Errorf("inserting file: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("file %s: %w", f.ID, store.ErrConflict)
	}
	return nil
}

func scanFile(row interface{ Scan(...any) error }) (store.BatchFile, error) {
	var f store.BatchFile
	var created, expires int64
	if err := row.Scan(&f.ID, &f.Owner, &f.Filename, &f.Purpose, &f.Bytes, &created, &expires); err != nil {
		return f, err
	}
	f.CreatedAt, f.ExpiresAt = fromMicros(created), fromMicros(expires)
	return f, nil
}

// BatchFile returns one file's metadata.
func (d *DB) BatchFile(ctx context.Context, id string) (store.BatchFile, error) {
	f, err := scanFile(d.r.QueryRowContext(ctx, d.q(`SELECT `+fileColumns+` FROM batch_files WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("file %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("reading file %s: %w", id, err)
	}
	return f, nil
}

// ListBatchFiles returns owner's files, newest first.
func (d *DB) ListBatchFiles(ctx context.Context, owner string) ([]store.BatchFile, error) {
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+fileColumns+` FROM batch_files WHERE owner = ? ORDER BY created_at DESC, id DESC`), owner)
	if err != nil {
		return nil, fmt.Errorf("listing files: %w", err)
	}
	defer rows.Close()
	var out []store.BatchFile
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("scanning file: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// DeleteBatchFile removes a file's metadata.
func (d *DB) DeleteBatchFile(ctx context.Context, id string) error {
	n, err := d.exec(ctx, `DELETE FROM batch_files WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("deleting file %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("file %s: %w", id, store.ErrNotFound)
	}
	return nil
}

const batchColumns = `id, owner, principal, endpoint, input_file_id, completion_window, status, output_file_id,
	error_file_id, model, metadata, errors, created_at, in_progress_at, expires_at, finalizing_at, completed_at,
	failed_at, expired_at, cancelling_at, cancelled_at, total, completed, failed, prompt_tokens, cached_tokens,
	completion_tokens, reasoning_tokens`

// CreateBatch stores b; an existing id yields store.ErrConflict.
func (d *DB) CreateBatch(ctx context.Context, b store.Batch) error {
	meta, err := json.Marshal(b.Metadata)
	if err != nil {
		return fmt.Errorf("encoding metadata: %w", err)
	}
	n, err := d.exec(ctx, `INSERT INTO batches (`+batchColumns+`)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING`,
		b.ID, b.Owner, b.Principal, b.Endpoint, b.InputFileID, b.CompletionWindow, b.Status, b.OutputFileID,
		b.ErrorFileID, b.Model, string(meta), b.Errors, micros(b.CreatedAt), micros(b.InProgressAt),
		micros(b.ExpiresAt), micros(b.FinalizingAt), micros(b.CompletedAt), micros(b.FailedAt),
		micros(b.ExpiredAt), micros(b.CancellingAt), micros(b.CancelledAt), b.Total, b.Completed, b.Failed,
		b.PromptTokens, b.CachedTokens, b.CompletionTokens, b.ReasoningTokens)
	if err != nil {
		return fmt.Errorf("inserting batch: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("batch %s: %w", b.ID, store.ErrConflict)
	}
	return nil
}

func scanBatch(row interface{ Scan(...any) error }) (store.Batch, error) {
	var b store.Batch
	var meta string
	var ts [9]int64
	err := row.Scan(&b.ID, &b.Owner, &b.Principal, &b.Endpoint, &b.InputFileID, &b.CompletionWindow, &b.Status,
		&b.OutputFileID, &b.ErrorFileID, &b.Model, &meta, &b.Errors, &ts[0], &ts[1], &ts[2], &ts[3], &ts[4],
		&ts[5], &ts[6], &ts[7], &ts[8], &b.Total, &b.Completed, &b.Failed, &b.PromptTokens, &b.CachedTokens,
		&b.CompletionTokens, &b.ReasoningTokens)
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal([]byte(meta), &b.Metadata); err != nil {
		return b, fmt.Errorf("decoding metadata: %w", err)
	}
	for i, p := range []*time.Time{&b.CreatedAt, &b.InProgressAt, &b.ExpiresAt, &b.FinalizingAt,
		&b.CompletedAt, &b.FailedAt, &b.ExpiredAt, &b.CancellingAt, &b.CancelledAt} {
		*p = fromMicros(ts[i])
	}
	if len(b.Errors) == 0 {
		b.Errors = nil
	}
	return b, nil
}

// Batch returns one batch.
func (d *DB) Batch(ctx context.Context, id string) (store.Batch, error) {
	b, err := scanBatch(d.r.QueryRowContext(ctx, d.q(`SELECT `+batchColumns+` FROM batches WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("batch %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("reading batch %s: %w", id, err)
	}
	return b, nil
}

// ListBatches returns owner's batches newest first, after the cursor.
func (d *DB) ListBatches(ctx context.Context, owner, after string, limit int) ([]store.Batch, error) {
	query := `SELECT ` + batchColumns + ` FROM batches WHERE owner = ?`
	args := []any{owner}
	if after != "" {
		query += ` AND (created_at < (SELECT created_at FROM batches WHERE id = ?)
			OR (created_at = (SELECT created_at FROM batches WHERE id = ?) AND id < ?))`
		args = append(args, after, after, after)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return d.queryBatches(ctx, query, args...)
}

// ActiveBatches returns batches not in a final status, oldest first.
func (d *DB) ActiveBatches(ctx context.Context) ([]store.Batch, error) {
	return d.queryBatches(ctx, `SELECT `+batchColumns+` FROM batches WHERE status IN (?,?,?,?) ORDER BY created_at, id`,
		store.BatchValidating, store.BatchInProgress, store.BatchFinalizing, store.BatchCancelling)
}

func (d *DB) queryBatches(ctx context.Context, query string, args ...any) ([]store.Batch, error) {
	rows, err := d.r.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("listing batches: %w", err)
	}
	defer rows.Close()
	var out []store.Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, fmt.Errorf("scanning batch: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// UpdateBatch writes the mutable fields when the stored status is from.
func (d *DB) UpdateBatch(ctx context.Context, b store.Batch, from string) error {
	n, err := d.exec(ctx, `UPDATE batches SET status = ?, output_file_id = ?, error_file_id = ?, model = ?,
		errors = ?, in_progress_at = ?, expires_at = ?, finalizing_at = ?, completed_at = ?, failed_at = ?,
		expired_at = ?, cancelling_at = ?, cancelled_at = ?, total = ? WHERE id = ? AND status = ?`,
		b.Status, b.OutputFileID, b.ErrorFileID, b.Model, b.Errors, micros(b.InProgressAt), micros(b.ExpiresAt),
		micros(b.FinalizingAt), micros(b.CompletedAt), micros(b.FailedAt), micros(b.ExpiredAt),
		micros(b.CancellingAt), micros(b.CancelledAt), b.Total, b.ID, from)
	if err != nil {
		return fmt.Errorf("updating batch %s: %w", b.ID, err)
	}
	if n == 0 {
		if _, err := d.Batch(ctx, b.ID); err != nil {
			return err
		}
		return fmt.Errorf("batch %s is no longer %s: %w", b.ID, from, store.ErrConflict)
	}
	return nil
}

// AddBatchItem records an answered line once and updates the counters.
func (d *DB) AddBatchItem(ctx context.Context, it store.BatchItem) (added bool, err error) {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("beginning item transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the original error matters more
		}
	}()
	res, err := tx.ExecContext(ctx, d.q(`INSERT INTO batch_items (batch_id, line, custom_id, failed, output,
		prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens) VALUES (?,?,?,?,?,?,?,?,?)
		ON CONFLICT (batch_id, line) DO NOTHING`), it.BatchID, it.Line, it.CustomID, it.Failed, it.Output,
		it.PromptTokens, it.CachedTokens, it.CompletionTokens, it.ReasoningTokens)
	if err != nil {
		return false, fmt.Errorf("inserting item: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("inserting item: %w", err)
	}
	if n == 0 {
		return false, tx.Rollback()
	}
	completed, failed := int64(1), int64(0)
	if it.Failed {
		completed, failed = 0, 1
	}
	if _, err = tx.ExecContext(ctx, d.q(`UPDATE batches SET completed = completed + ?, failed = failed + ?,
		prompt_tokens = prompt_tokens + ?, cached_tokens = cached_tokens + ?,
		completion_tokens = completion_tokens + ?, reasoning_tokens = reasoning_tokens + ? WHERE id = ?`),
		completed, failed, it.PromptTokens, it.CachedTokens, it.CompletionTokens, it.ReasoningTokens, it.BatchID); err != nil {
		return false, fmt.Errorf("counting item: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return false, fmt.Errorf("committing item: %w", err)
	}
	return true, nil
}

// BatchItems pages through a batch's recorded items by line.
func (d *DB) BatchItems(ctx context.Context, batchID string, afterLine int64, limit int) ([]store.BatchItem, error) {
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT batch_id, line, custom_id, failed, output, prompt_tokens,
		cached_tokens, completion_tokens, reasoning_tokens FROM batch_items WHERE batch_id = ? AND line > ?
		ORDER BY line LIMIT ?`), batchID, afterLine, limit)
	if err != nil {
		return nil, fmt.Errorf("listing items: %w", err)
	}
	defer rows.Close()
	var out []store.BatchItem
	for rows.Next() {
		var it store.BatchItem
		if err := rows.Scan(&it.BatchID, &it.Line, &it.CustomID, &it.Failed, &it.Output, &it.PromptTokens,
			&it.CachedTokens, &it.CompletionTokens, &it.ReasoningTokens); err != nil {
			return nil, fmt.Errorf("scanning item: %w", err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}
