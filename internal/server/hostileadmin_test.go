package server_test

import (
	"strings"
	"testing"
)

// hostileChat is a chat request for model.
func hostileChat(model string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}],"max_tokens":2}`
}

func hostileKeyID(key string) string { return strings.Split(key, "_")[1] }

// setupHostileTeam: an admin defines role and a team "interns" limited to
// deepseek-chat, creates a key of role and puts it in the team. The key
// cannot call deepseek-reasoner.
func setupHostileTeam(t *testing.T, e *authEnv, role, perms string) string {
	t.Helper()
	mustAdmin := func(method, path, body string, want int) {
		t.Helper()
		if resp, b := e.do(t, method, path, e.adminKey, body); resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	mustAdmin("PUT", "/admin/roles/"+role, `{"permissions":`+perms+`}`, 200)
	mustAdmin("PUT", "/admin/teams/interns", `{"models":["deepseek-chat"]}`, 200)
	key := e.adminCreateKey(t, `{"name":"insider","role":"`+role+`"}`)
	mustAdmin("PUT", "/admin/teams/interns/members/key/"+hostileKeyID(key), ``, 200)
	if resp, b := e.do(t, "POST", "/v1/chat/completions", key, hostileChat("deepseek-reasoner")); resp.StatusCode != 403 {
		t.Fatalf("setup: the team member called deepseek-reasoner: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do(t, "POST", "/v1/chat/completions", key, hostileChat("deepseek-chat")); resp.StatusCode != 200 {
		t.Fatalf("setup: the team member cannot call deepseek-chat: %d %s", resp.StatusCode, b)
	}
	return key
}

// TestHostileAdminLeaveOwnTeamForMoreModels: a team lead (admin.roles, as
// /admin/teams requires, plus chat) whose team confines it to
// deepseek-chat removes itself from the team, or widens the team, and
// then calls deepseek-reasoner. Team membership and team allow-lists are
// written with no grant check (admin/cost.go putTeam, addMember,
// removeMember, deleteTeam), unlike roles (CheckDefine) and keys
// (CheckGrant): nobody may reach a model they do not hold.
func TestHostileAdminLeaveOwnTeamForMoreModels(t *testing.T) {
	t.Parallel()
	e := startAuth(t, "")
	perms := `[{"resource":"admin.roles","actions":["*"]},{"resource":"text_generation","actions":["*"]}]`
	key := setupHostileTeam(t, e, "teamlead", perms)
	for _, step := range []struct{ method, path, body string }{
		{"PUT", "/admin/teams/interns", `{"models":[]}`},                        // widen the own team
		{"PUT", "/admin/teams/open", `{}`},                                      // or move to a new team
		{"PUT", "/admin/teams/open/members/key/" + hostileKeyID(key), ``},       // without limits
		{"DELETE", "/admin/teams/interns/members/key/" + hostileKeyID(key), ``}, // or just leave
	} {
		e.do(t, step.method, step.path, key, step.body)
	}
	if resp, b := e.do(t, "POST", "/v1/chat/completions", key, hostileChat("deepseek-reasoner")); resp.StatusCode == 200 {
		t.Fatalf("a member confined to deepseek-chat by its team rewrote its team and called deepseek-reasoner: %d %s", resp.StatusCode, b)
	}
}

// TestHostileAdminKeyOutsideOwnTeam: a key maker confined to deepseek-chat
// by its team mints a key of its own role. The grant check (auth.holds)
// compares the new key with the caller's role and key allow-lists but not
// with its team's, and the new key belongs to no team, so it reaches
// deepseek-reasoner, which the caller cannot.
func TestHostileAdminKeyOutsideOwnTeam(t *testing.T) {
	t.Parallel()
	e := startAuth(t, "")
	perms := `[{"resource":"admin.keys","actions":["create"]},{"resource":"text_generation","actions":["*"]}]`
	key := setupHostileTeam(t, e, "keymaker", perms)
	resp, b := e.do(t, "POST", "/admin/keys", key, `{"name":"escape","role":"keymaker"}`)
	if resp.StatusCode != 201 {
		return // refused: the fix
	}
	minted := jsonField(b, "key")
	if resp, b := e.do(t, "POST", "/v1/chat/completions", minted, hostileChat("deepseek-reasoner")); resp.StatusCode == 200 {
		t.Fatalf("a key minted by a member confined to deepseek-chat calls deepseek-reasoner: %d %s", resp.StatusCode, b)
	}
}

// TestHostileAdminRevokesAdminKey: a role that holds only admin.keys
// delete (a help-desk role for revoking leaked developer keys) revokes
// the admin's key, locking every administrator out. PATCH of the same key
// is refused (SetKeyLimits asks CheckGrant for the key's role), revocation
// asks nothing (admin/routes.go revokeKey).
func TestHostileAdminRevokesAdminKey(t *testing.T) {
	t.Parallel()
	e := startAuth(t, "")
	if resp, b := e.do(t, "PUT", "/admin/roles/helpdesk", e.adminKey,
		`{"permissions":[{"resource":"admin.keys","actions":["read","update","delete"]}]}`); resp.StatusCode != 200 {
		t.Fatalf("role: %d %s", resp.StatusCode, b)
	}
	helpdesk := e.adminCreateKey(t, `{"name":"helpdesk","role":"helpdesk"}`)
	admin2 := e.adminCreateKey(t, `{"name":"admin2","role":"admin"}`)
	if resp, _ := e.do(t, "PATCH", "/admin/keys/"+hostileKeyID(admin2), helpdesk, `{"rpm":1}`); resp.StatusCode != 403 {
		t.Fatalf("setup: helpdesk edited an admin key: %d", resp.StatusCode)
	}
	e.do(t, "DELETE", "/admin/keys/"+hostileKeyID(admin2), helpdesk, ``)
	if resp, b := e.do(t, "GET", "/admin/keys", admin2, ``); resp.StatusCode != 200 {
		t.Fatalf("a helpdesk key (admin.keys only) revoked an admin's key: %d %s", resp.StatusCode, b)
	}
}

func jsonField(b []byte, name string) string {
	s := string(b)
	i := strings.Index(s, `"`+name+`":"`)
	if i < 0 {
		return ""
	}
	s = s[i+len(name)+4:]
	return s[:strings.IndexByte(s, '"')]
}
