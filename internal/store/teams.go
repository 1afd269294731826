package store

import (
	"context"
	"time"
)

// Team groups keys and OAuth2 clients: its model allow-list, rate limits
// and budgets apply to every member in addition to the member's own.
type Team struct {
	Name string `json:"name"`
	// Models, when not empty, is the only models members may use.
	Models []string `json:"models,omitempty"`
	// RPM, TPM and MaxConcurrent limit the team as a whole; 0: none.
	RPM           int64     `json:"rpm,omitempty"`
	TPM           int64     `json:"tpm,omitempty"`
	MaxConcurrent int64     `json:"max_concurrent,omitempty"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// TeamMember says which team a key or client belongs to (one at most).
type TeamMember struct {
	Kind        PrincipalKind `json:"kind"`
	PrincipalID string        `json:"principal_id"`
	Team        string        `json:"team"`
}

// TeamStore keeps teams and their members. It is separate from Store so
// that implementations without teams keep working; the SQL stores have it.
type TeamStore interface {
	// PutTeam creates or replaces a team.
	PutTeam(ctx context.Context, t Team) error
	// Team reads one team (ErrNotFound).
	Team(ctx context.Context, name string) (Team, error)
	// ListTeams lists every team by name.
	ListTeams(ctx context.Context) ([]Team, error)
	// DeleteTeam removes a team and its memberships (ErrNotFound).
	DeleteTeam(ctx context.Context, name string) error
	// SetTeamMember puts a key or client in team (ErrNotFound when the
	// team does not exist), or out of any team when team is "".
	SetTeamMember(ctx context.Context, kind PrincipalKind, id, team string) error
	// ListTeamMembers lists every membership, by kind and principal.
	ListTeamMembers(ctx context.Context) ([]TeamMember, error)
}
