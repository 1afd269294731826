package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dsgate/dsgate/internal/store"
)

var _ store.TeamStore = (*DB)(nil)

// PutTeam implements store.TeamStore.
func (d *DB) PutTeam(ctx context.Context, t store.Team) error {
	_, err := d.exec(ctx, `INSERT INTO teams (name, models, rpm, tpm, max_concurrent, updated_at) VALUES (?,?,?,?,?,?)
		ON CONFLICT (name) DO UPDATE SET models = excluded.models, rpm = excluded.rpm, tpm = excluded.tpm,
			max_concurrent = excluded.max_concurrent, updated_at = excluded.updated_at`,
		t.Name, encodeList(t.Models), t.RPM, t.TPM, t.MaxConcurrent, micros(t.UpdatedAt))
	if err != nil {
		return fmt.Errorf("writing team: %w", err)
	}
	return nil
}

const teamColumns = `name, models, rpm, tpm, max_concurrent, updated_at`

func scanTeam(row interface{ Scan(...any) error }) (store.Team, error) {
	var (
		t       store.Team
		models  string
		updated int64
	)
	if err := row.Scan(&t.Name, &models, &t.RPM, &t.TPM, &t.MaxConcurrent, &updated); err != nil {
		return t, err
	}
	t.UpdatedAt = fromMicros(updated)
	m, err := decodeList(models)
	t.Models = m
	return t, err
}

// Team implements store.TeamStore.
func (d *DB) Team(ctx context.Context, name string) (store.Team, error) {
	t, err := scanTeam(d.r.QueryRowContext(ctx, d.q(`SELECT `+teamColumns+` FROM teams WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("team %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("reading team: %w", err)
	}
	return t, nil
}

// ListTeams implements store.TeamStore.
func (d *DB) ListTeams(ctx context.Context) ([]store.Team, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+teamColumns+` FROM teams ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing teams: %w", err)
	}
	defer rows.Close()
	var out []store.Team
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, fmt.Errorf("listing teams: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteTeam implements store.TeamStore.
func (d *DB) DeleteTeam(ctx context.Context, name string) (err error) {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("deleting team: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the original error matters more
		}
	}()
	res, err := tx.ExecContext(ctx, d.q(`DELETE FROM teams WHERE name = ?`), name)
	if err != nil {
		return fmt.Errorf("deleting team: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("team %s: %w", name, store.ErrNotFound)
	}
	if _, err = tx.ExecContext(ctx, d.q(`DELETE FROM team_members WHERE team = ?`), name); err != nil {
		return fmt.Errorf("deleting team members: %w", err)
	}
	return tx.Commit()
}

// SetTeamMember implements store.TeamStore.
func (d *DB) SetTeamMember(ctx context.Context, kind store.PrincipalKind, id, team string) error {
	if team == "" {
		if _, err := d.exec(ctx, `DELETE FROM team_members WHERE kind = ? AND principal_id = ?`, string(kind), id); err != nil {
			return fmt.Errorf("removing team member: %w", err)
		}
		return nil
	}
	if _, err := d.Team(ctx, team); err != nil {
		return err
	}
	_, err := d.exec(ctx, `INSERT INTO team_members (kind, principal_id, team) VALUES (?,?,?)
		ON CONFLICT (kind, principal_id) DO UPDATE SET team = excluded.team`, string(kind), id, team)
	if err != nil {
		return fmt.Errorf("writing team member: %w", err)
	}
	return nil
}

// ListTeamMembers implements store.TeamStore.
func (d *DB) ListTeamMembers(ctx context.Context) ([]store.TeamMember, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT kind, principal_id, team FROM team_members ORDER BY kind, principal_id`)
	if err != nil {
		return nil, fmt.Errorf("listing team members: %w", err)
	}
	defer rows.Close()
	var out []store.TeamMember
	for rows.Next() {
		var (
			m    store.TeamMember
			kind string
		)
		if err := rows.Scan(&kind, &m.PrincipalID, &m.Team); err != nil {
			return nil, fmt.Errorf("listing team members: %w", err)
		}
		m.Kind = store.PrincipalKind(kind)
		out = append(out, m)
	}
	return out, rows.Err()
}
