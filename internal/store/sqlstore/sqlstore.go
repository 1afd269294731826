package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/store"
)

// Options configures a DB.
type Options struct {
	// Writer runs every statement that changes data. SQLite passes a
	// handle limited to one connection so writers queue in Go instead of
	// failing with "database is locked".
	Writer *sql.DB
	// Reader runs queries; it may be the same handle as Writer.
	Reader *sql.DB
	// Numbered rewrites "?" placeholders to "$1", "$2", ... (PostgreSQL).
	Numbered bool
	// Close is called by DB.Close; nil closes Writer and Reader.
	Close func() error
	// Health reports the backend's connection state; nil: always up.
	Health func() Health
}

// Health is the connection state of a store's backend.
type Health struct {
	Backend string // postgres, sqlite
	// Up is false while connections to the backend fail.
	Up bool
	// Since is when the backend last went up or down.
	Since time.Time
	// ConnectFailures counts failed connection attempts since start.
	ConnectFailures uint64
	// LastError is the last connection error while down.
	LastError string
}

// DB is a store.Store over database/sql.
type DB struct {
	w, r     *sql.DB
	numbered bool
	close    func() error
	health   func() Health
}

var _ store.Store = (*DB)(nil)

// New returns a store over the handles in opts; the schema must exist.
func New(opts Options) *DB {
	if opts.Reader == nil {
		opts.Reader = opts.Writer
	}
	return &DB{w: opts.Writer, r: opts.Reader, numbered: opts.Numbered, close: opts.Close, health: opts.Health}
}

// Health reports the backend's connection state; a store without a health
// source (SQLite, a local file) is always up.
func (d *DB) Health() Health {
	if d.health == nil {
		return Health{Up: true}
	}
	return d.health()
}

// q rewrites placeholders for the dialect.
func (d *DB) q(query string) string {
	if !d.numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// Ping checks both handles.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.w.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging writer: %w", err)
	}
	if err := d.r.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging reader: %w", err)
	}
	return nil
}

// Close releases the connections.
func (d *DB) Close() error {
	if d.close != nil {
		return d.close()
	}
	err := d.w.Close()
	if d.r != d.w {
		err = errors.Join(err, d.r.Close())
	}
	return err
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func encodeList(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v) // []string always marshals
	return string(b)
}

func decodeList(s string) ([]string, error) {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decoding list: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// exec runs a write statement and returns the number of rows it changed.
func (d *DB) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.w.ExecContext(ctx, d.q(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

const keyColumns = `id, name, role, hash, models, rpm, tpm, max_concurrent, created_at, expires_at, revoked_at`

// CreateKey stores k; an existing id yields store.ErrConflict.
func (d *DB) CreateKey(ctx context.Context, k store.Key) error {
	n, err := d.exec(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING`,
		k.ID, k.Name, k.Role, k.Hash, encodeList(k.Models), k.RPM, k.TPM, k.MaxConcurrent,
		micros(k.CreatedAt), micros(k.ExpiresAt), micros(k.RevokedAt))
	if err != nil {
		return fmt.Errorf("inserting key: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("key %s: %w", k.ID, store.ErrConflict)
	}
	return nil
}

func scanKey(row interface{ Scan(...any) error }) (store.Key, error) {
	var (
		k                         store.Key
		models                    string
		created, expires, revoked int64
	)
	err := row.Scan(&k.ID, &k.Name, &k.Role, &k.Hash, &models, &k.RPM, &k.TPM, &k.MaxConcurrent, &created, &expires, &revoked)
	if err != nil {
		return k, err
	}
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = fromMicros(created), fromMicros(expires), fromMicros(revoked)
	k.Models, err = decodeList(models)
	return k, err
}

// Key returns one key or store.ErrNotFound.
func (d *DB) Key(ctx context.Context, id string) (store.Key, error) {
	k, err := scanKey(d.r.QueryRowContext(ctx, d.q(`SELECT `+keyColumns+` FROM api_keys WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("key %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("reading key: %w", err)
	}
	return k, nil
}

// ListKeys returns all keys ordered by creation time.
func (d *DB) ListKeys(ctx context.Context) ([]store.Key, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("reading key: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey marks a key revoked; the first revocation time is kept.
func (d *DB) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return d.revoke(ctx, "api_keys", id, at)
}

func (d *DB) revoke(ctx context.Context, table, id string, at time.Time) error {
	n, err := d.exec(ctx, `UPDATE `+table+` SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, micros(at), id)
	if err != nil {
		return fmt.Errorf("revoking %s: %w", id, err)
	}
	if n > 0 {
		return nil
	}
	var one int
	err = d.r.QueryRowContext(ctx, d.q(`SELECT 1 FROM `+table+` WHERE id = ?`), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoking %s: %w", id, err)
	}
	return nil
}

const clientColumns = `id, name, role, secret_hash, scopes, models, rpm, tpm, max_concurrent, created_at, revoked_at`

// CreateClient stores c; an existing id yields store.ErrConflict.
func (d *DB) CreateClient(ctx context.Context, c store.Client) error {
	n, err := d.exec(ctx, `INSERT INTO oauth_clients (`+clientColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING`,
		c.ID, c.Name, c.Role, c.SecretHash, encodeList(c.Scopes), encodeList(c.Models), c.RPM, c.TPM, c.MaxConcurrent,
		micros(c.CreatedAt), micros(c.RevokedAt))
	if err != nil {
		return fmt.Errorf("inserting client: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("client %s: %w", c.ID, store.ErrConflict)
	}
	return nil
}

func scanClient(row interface{ Scan(...any) error }) (store.Client, error) {
	var (
		c                store.Client
		scopes, models   string
		created, revoked int64
	)
	err := row.Scan(&c.ID, &c.Name, &c.Role, &c.SecretHash, &scopes, &models, &c.RPM, &c.TPM, &c.MaxConcurrent, &created, &revoked)
	if err != nil {
		return c, err
	}
	c.CreatedAt, c.RevokedAt = fromMicros(created), fromMicros(revoked)
	if c.Scopes, err = decodeList(scopes); err != nil {
		return c, err
	}
	c.Models, err = decodeList(models)
	return c, err
}

// Client returns one client or store.ErrNotFound.
func (d *DB) Client(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(d.r.QueryRowContext(ctx, d.q(`SELECT `+clientColumns+` FROM oauth_clients WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("client %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("reading client: %w", err)
	}
	return c, nil
}

// ListClients returns all clients ordered by creation time.
func (d *DB) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+clientColumns+` FROM oauth_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("listing clients: %w", err)
	}
	defer rows.Close()
	var out []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("reading client: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RevokeClient marks a client revoked; the first revocation time is kept.
func (d *DB) RevokeClient(ctx context.Context, id string, at time.Time) error {
	return d.revoke(ctx, "oauth_clients", id, at)
}

// PutRole creates or replaces a role.
func (d *DB) PutRole(ctx context.Context, r store.Role) error {
	grants, err := json.Marshal(r.Grants)
	if err != nil {
		return fmt.Errorf("encoding grants: %w", err)
	}
	_, err = d.exec(ctx, `INSERT INTO roles (name, grants, models, updated_at) VALUES (?,?,?,?)
		ON CONFLICT (name) DO UPDATE SET grants = excluded.grants, models = excluded.models, updated_at = excluded.updated_at`,
		r.Name, string(grants), encodeList(r.Models), micros(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("writing role: %w", err)
	}
	return nil
}

func scanRole(row interface{ Scan(...any) error }) (store.Role, error) {
	var (
		r              store.Role
		grants, models string
		updated        int64
	)
	if err := row.Scan(&r.Name, &grants, &models, &updated); err != nil {
		return r, err
	}
	r.UpdatedAt = fromMicros(updated)
	if err := json.Unmarshal([]byte(grants), &r.Grants); err != nil {
		return r, fmt.Errorf("decoding grants: %w", err)
	}
	var err error
	r.Models, err = decodeList(models)
	return r, err
}

// Role returns one role or store.ErrNotFound.
func (d *DB) Role(ctx context.Context, name string) (store.Role, error) {
	r, err := scanRole(d.r.QueryRowContext(ctx, d.q(`SELECT name, grants, models, updated_at FROM roles WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("role %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("reading role: %w", err)
	}
	return r, nil
}

// ListRoles returns all stored roles ordered by name.
func (d *DB) ListRoles(ctx context.Context) ([]store.Role, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT name, grants, models, updated_at FROM roles ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing roles: %w", err)
	}
	defer rows.Close()
	var out []store.Role
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, fmt.Errorf("reading role: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteRole removes a role or returns store.ErrNotFound.
func (d *DB) DeleteRole(ctx context.Context, name string) error {
	n, err := d.exec(ctx, `DELETE FROM roles WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("deleting role: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("role %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// AddUsage adds all deltas in one transaction. Buckets are updated in a
// fixed order so concurrent writers on PostgreSQL cannot deadlock.
func (d *DB) AddUsage(ctx context.Context, deltas []store.UsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	return d.addUsage(ctx, deltas, "", 0)
}

// AddJournalUsage adds the deltas and sets the mark of journal to seq, in
// one transaction.
func (d *DB) AddJournalUsage(ctx context.Context, deltas []store.UsageDelta, journal string, seq uint64) error {
	return d.addUsage(ctx, deltas, journal, seq)
}

// JournalMark returns the seq of the last record of journal added.
func (d *DB) JournalMark(ctx context.Context, journal string) (uint64, error) {
	var seq int64
	err := d.r.QueryRowContext(ctx, d.q(`SELECT seq FROM usage_journal_marks WHERE journal = ?`), journal).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading usage journal mark: %w", err)
	}
	return uint64(seq), nil
}

// addUsage adds deltas and, when journal is set, moves its mark to seq.
func (d *DB) addUsage(ctx context.Context, deltas []store.UsageDelta, journal string, seq uint64) (err error) {
	sorted := append([]store.UsageDelta(nil), deltas...)
	sort.Slice(sorted, func(i, j int) bool { return lessUsage(sorted[i].UsageKey(), sorted[j].UsageKey()) })
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning usage transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the original error matters more
		}
	}()
	stmt, err := tx.PrepareContext(ctx, d.q(`INSERT INTO usage_totals
		(kind, principal_id, model, day, hour, currency, requests, prompt_tokens, cache_hit_tokens, completion_tokens,
			cost_nano, cost_saved_nano)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (kind, principal_id, model, day, hour, currency) DO UPDATE SET
			requests = usage_totals.requests + excluded.requests,
			prompt_tokens = usage_totals.prompt_tokens + excluded.prompt_tokens,
			cache_hit_tokens = usage_totals.cache_hit_tokens + excluded.cache_hit_tokens,
			completion_tokens = usage_totals.completion_tokens + excluded.completion_tokens,
			cost_nano = usage_totals.cost_nano + excluded.cost_nano,
			cost_saved_nano = usage_totals.cost_saved_nano + excluded.cost_saved_nano`))
	if err != nil {
		return fmt.Errorf("preparing usage upsert: %w", err)
	}
	defer stmt.Close()
	for _, u := range sorted {
		k := u.UsageKey()
		if _, err = stmt.ExecContext(ctx, string(k.Kind), k.PrincipalID, k.Model, micros(k.Day), micros(k.Hour), k.Currency,
			u.Requests, u.PromptTokens, u.CacheHitTokens, u.CompletionTokens, u.Cost, u.CostSaved); err != nil {
			return fmt.Errorf("adding usage: %w", invalidData(err))
		}
	}
	if journal != "" {
		if _, err = tx.ExecContext(ctx, d.q(`INSERT INTO usage_journal_marks (journal, seq) VALUES (?, ?)
			ON CONFLICT (journal) DO UPDATE SET seq = excluded.seq`), journal, int64(seq)); err != nil {
			return fmt.Errorf("setting usage journal mark: %w", err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("committing usage: %w", err)
	}
	return nil
}

// invalidData marks err with store.ErrInvalidData when the backend refused
// a value (SQLSTATE class 22, data exception) rather than failing.
func invalidData(err error) error {
	var st interface{ SQLState() string }
	if errors.As(err, &st) && strings.HasPrefix(st.SQLState(), "22") {
		return fmt.Errorf("%w: %w", store.ErrInvalidData, err)
	}
	return err
}

func lessUsage(a, b store.UsageKey) bool {
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.PrincipalID != b.PrincipalID {
		return a.PrincipalID < b.PrincipalID
	}
	if a.Model != b.Model {
		return a.Model < b.Model
	}
	if !a.Hour.Equal(b.Hour) {
		return a.Hour.Before(b.Hour)
	}
	return a.Currency < b.Currency
}

// usageSums are the summed columns of usage_totals, in Scan order.
const usageSums = `requests, prompt_tokens, cache_hit_tokens, completion_tokens, cost_nano, cost_saved_nano`

// Usage returns the buckets matching f: every hour bucket with f.ByHour,
// else their exact sums per UTC day.
func (d *DB) Usage(ctx context.Context, f store.UsageFilter) ([]store.UsageDelta, error) {
	cols, group, order := `kind, principal_id, model, day, hour, currency, `+usageSums, ``, `day, hour`
	if !f.ByHour {
		order = `day`
		cols = `kind, principal_id, model, day, 0, currency`
		for _, c := range strings.Split(usageSums, ", ") {
			cols += `, CAST(SUM(` + c + `) AS BIGINT)`
		}
		group = ` GROUP BY kind, principal_id, model, day, currency`
	}
	where, args := usageWhere(f)
	query := `SELECT ` + cols + ` FROM usage_totals WHERE 1=1` + where + group +
		` ORDER BY kind, principal_id, model, ` + order + `, currency`
	rows, err := d.r.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("reading usage: %w", err)
	}
	defer rows.Close()
	var out []store.UsageDelta
	for rows.Next() {
		var (
			u         store.UsageDelta
			kind      string
			day, hour int64
		)
		if err := rows.Scan(&kind, &u.PrincipalID, &u.Model, &day, &hour, &u.Currency, &u.Requests, &u.PromptTokens,
			&u.CacheHitTokens, &u.CompletionTokens, &u.Cost, &u.CostSaved); err != nil {
			return nil, fmt.Errorf("reading usage: %w", err)
		}
		u.Kind, u.Day, u.Hour = store.PrincipalKind(kind), fromMicros(day), fromMicros(hour)
		out = append(out, u)
	}
	return out, rows.Err()
}

// usageWhere is the WHERE clause (after "1=1") and arguments of f. Time
// bounds apply to the hour of hourly buckets and to the day of buckets
// that know their day only (hour 0).
func usageWhere(f store.UsageFilter) (string, []any) {
	var (
		where string
		args  []any
	)
	if f.Kind != "" {
		where += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	if f.PrincipalID != "" {
		where += ` AND principal_id = ?`
		args = append(args, f.PrincipalID)
	}
	if !f.From.IsZero() {
		where += ` AND ((hour <> 0 AND hour >= ?) OR (hour = 0 AND day >= ?))`
		args = append(args, micros(f.From), micros(f.From))
	}
	if !f.To.IsZero() {
		where += ` AND ((hour <> 0 AND hour < ?) OR (hour = 0 AND day < ?))`
		args = append(args, micros(f.To), micros(f.To))
	}
	return where, args
}

// RevokeToken records a revoked token id.
func (d *DB) RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if _, err := d.exec(ctx, `INSERT INTO revoked_tokens (jti, expires_at) VALUES (?,?) ON CONFLICT (jti) DO NOTHING`,
		jti, micros(expiresAt)); err != nil {
		return fmt.Errorf("revoking token: %w", err)
	}
	return nil
}

// TokenRevoked reports whether jti was revoked.
func (d *DB) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	var one int
	err := d.r.QueryRowContext(ctx, d.q(`SELECT 1 FROM revoked_tokens WHERE jti = ?`), jti).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading revocation: %w", err)
	}
	return true, nil
}

// RevokedTokens returns unexpired revocations after afterSeq.
func (d *DB) RevokedTokens(ctx context.Context, afterSeq int64, now time.Time) ([]store.RevokedToken, error) {
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT seq, jti, expires_at FROM revoked_tokens
		WHERE seq > ? AND expires_at > ? ORDER BY seq`), afterSeq, micros(now))
	if err != nil {
		return nil, fmt.Errorf("listing revocations: %w", err)
	}
	defer rows.Close()
	var out []store.RevokedToken
	for rows.Next() {
		var (
			t   store.RevokedToken
			exp int64
		)
		if err := rows.Scan(&t.Seq, &t.JTI, &exp); err != nil {
			return nil, fmt.Errorf("reading revocation: %w", err)
		}
		t.ExpiresAt = fromMicros(exp)
		out = append(out, t)
	}
	return out, rows.Err()
}

// PruneRevokedTokens deletes revocations of tokens that have expired.
func (d *DB) PruneRevokedTokens(ctx context.Context, now time.Time) error {
	if _, err := d.exec(ctx, `DELETE FROM revoked_tokens WHERE expires_at <= ?`, micros(now)); err != nil {
		return fmt.Errorf("pruning revocations: %w", err)
	}
	return nil
}

// AddSigningKey stores a new signing key.
func (d *DB) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	n, err := d.exec(ctx, `INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at, activates_at, retired_at)
		VALUES (?,?,?,?,?,?,?) ON CONFLICT (kid) DO NOTHING`,
		k.KID, k.Algorithm, k.PrivateKey, k.PublicKey, micros(k.CreatedAt), micros(k.ActivatesAt), micros(k.RetiredAt))
	if err != nil {
		return fmt.Errorf("inserting signing key: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("signing key %s: %w", k.KID, store.ErrConflict)
	}
	return nil
}

// SigningKeys returns all signing keys, newest first.
func (d *DB) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT kid, algorithm, private_key, public_key, created_at, activates_at, retired_at
		FROM signing_keys ORDER BY activates_at DESC, created_at DESC, kid`)
	if err != nil {
		return nil, fmt.Errorf("listing signing keys: %w", err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var (
			k                           store.SigningKey
			created, activates, retired int64
		)
		if err := rows.Scan(&k.KID, &k.Algorithm, &k.PrivateKey, &k.PublicKey, &created, &activates, &retired); err != nil {
			return nil, fmt.Errorf("reading signing key: %w", err)
		}
		k.CreatedAt, k.ActivatesAt, k.RetiredAt = fromMicros(created), fromMicros(activates), fromMicros(retired)
		out = append(out, k)
	}
	return out, rows.Err()
}

// RetireSigningKey stops a key from signing; it still verifies.
func (d *DB) RetireSigningKey(ctx context.Context, kid string, at time.Time) error {
	n, err := d.exec(ctx, `UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at = 0`, micros(at), kid)
	if err != nil {
		return fmt.Errorf("retiring signing key: %w", err)
	}
	if n == 0 {
		var one int
		err := d.r.QueryRowContext(ctx, d.q(`SELECT 1 FROM signing_keys WHERE kid = ?`), kid).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("signing key %s: %w", kid, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("retiring signing key: %w", err)
		}
	}
	return nil
}

// DeleteSigningKey removes a key entirely.
func (d *DB) DeleteSigningKey(ctx context.Context, kid string) error {
	if _, err := d.exec(ctx, `DELETE FROM signing_keys WHERE kid = ?`, kid); err != nil {
		return fmt.Errorf("deleting signing key: %w", err)
	}
	return nil
}
