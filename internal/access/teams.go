package access

import (
	"context"
	"fmt"
	"slices"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/store"
)

// Teams is a snapshot of the teams and who belongs to them, read from the
// store and swapped whole (SetTeams) when it changes.
type Teams struct {
	teams   map[string]store.Team
	members map[member]string
}

type member struct {
	kind auth.Kind
	id   string
}

// NewTeams indexes teams and memberships.
func NewTeams(teams []store.Team, members []store.TeamMember) *Teams {
	t := &Teams{teams: make(map[string]store.Team, len(teams)), members: make(map[member]string, len(members))}
	for _, tm := range teams {
		t.teams[tm.Name] = tm
	}
	for _, m := range members {
		t.members[member{auth.Kind(m.Kind), m.PrincipalID}] = m.Team
	}
	return t
}

// LoadTeams reads the snapshot from st.
func LoadTeams(ctx context.Context, st store.TeamStore) (*Teams, error) {
	teams, err := st.ListTeams(ctx)
	if err != nil {
		return nil, err
	}
	members, err := st.ListTeamMembers(ctx)
	if err != nil {
		return nil, err
	}
	return NewTeams(teams, members), nil
}

// SetTeams installs a snapshot.
func (a *Access) SetTeams(t *Teams) { a.teams.Store(t) }

// team returns p's team: the one its token's claims assigned (an external
// issuer's mapping), else its store membership when that team exists.
func (a *Access) team(p *auth.Principal) (store.Team, bool) {
	if c := a.current.Load(); c != nil && c.Team != nil { // an override (tests)
		name := c.Team(p)
		return store.Team{Name: name}, name != ""
	}
	if p == nil {
		return store.Team{}, false
	}
	t := a.teams.Load()
	if p.Team != "" { // assigned by an external issuer's claim mapping
		if t != nil {
			if tm, ok := t.teams[p.Team]; ok {
				return tm, true
			}
		}
		return store.Team{Name: p.Team}, true // a team without limits of its own
	}
	if t == nil {
		return store.Team{}, false
	}
	name, ok := t.members[member{p.Kind, p.ID}]
	if !ok {
		return store.Team{}, false
	}
	tm, ok := t.teams[name]
	return tm, ok
}

// CheckGrant is the policy's CheckGrant bounded by the caller's team as
// well (auth.Policy.CheckGrantWithin): the grant check of the admin API
// and the console (admin.Grants).
func (a *Access) CheckGrant(caller *auth.Principal, role string, models []string) error {
	pol := a.o().Policy
	if pol == nil { // authentication off: there is no one to check
		return nil
	}
	var within []string
	if t, ok := a.team(caller); ok && caller != nil {
		within = t.Models
	}
	return pol.CheckGrantWithin(caller, role, models, within)
}

// authorizeTeam refuses a model outside the allow-list of p's team (for
// Authorize, after the member's own allow-list).
func (a *Access) authorizeTeam(p *auth.Principal, model string) error {
	t, ok := a.team(p)
	if !ok || len(t.Models) == 0 || slices.Contains(t.Models, model) {
		return nil
	}
	return fmt.Errorf("%w: team %s may not use model %s", auth.ErrForbidden, t.Name, model)
}

// TeamGrant is a call admitted under its team's limits. Done must be
// called exactly once; a nil TeamGrant (no team limits) is valid.
type TeamGrant struct {
	ticket *ratelimit.Ticket
}

// AdmitTeam reserves the call under the limits of p's team (its RPM, TPM
// and concurrency, shared by all members), in addition to p's own
// (Admit). It returns nil when p has no team or the team no limits.
func (a *Access) AdmitTeam(ctx context.Context, p *auth.Principal, req *openai.Request) (*TeamGrant, error) {
	if a.o().Limiter == nil {
		return nil, nil
	}
	t, ok := a.team(p)
	if !ok || (t.RPM <= 0 && t.TPM <= 0 && t.MaxConcurrent <= 0) {
		return nil, nil
	}
	lim := ratelimit.Limits{RPM: t.RPM, TPM: t.TPM, MaxConcurrent: t.MaxConcurrent}
	tk, err := a.o().Limiter.Acquire(ctx, "team:"+t.Name, lim, a.estimate(req))
	if err != nil {
		return nil, err
	}
	return &TeamGrant{ticket: tk}, nil
}

// Done settles the team's reservation with the real usage.
// SettlesLocally is Grant.SettlesLocally for the team's limits.
func (g *TeamGrant) SettlesLocally() bool { return g == nil || g.ticket.SettlesLocally() }

func (g *TeamGrant) Done(ctx context.Context, u openai.Usage, cached bool) {
	if g == nil {
		return
	}
	used := int64(u.TotalTokens)
	if cached {
		used = 0
	}
	g.ticket.Done(context.WithoutCancel(ctx), used)
}
