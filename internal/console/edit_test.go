package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/store"
)

// An admin sets a key's models and limits from its edit page; the store
// has them and the form shows them; bad numbers and negative limits are
// refused with the admin API's message and change nothing.
func TestEditKeyLimits(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	csrf := b.signIn(f.adminKey)
	_, page := b.get("/console/keys")
	if !strings.Contains(page, `href="/console/keys/`+f.analyst.ID+`"`) {
		t.Fatalf("keys page has no edit link:\n%s", page)
	}
	resp, page := b.get("/console/keys/" + f.analyst.ID)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `action="/console/keys/`+f.analyst.ID+`/limits"`) {
		t.Fatalf("edit page: %d\n%s", resp.StatusCode, page)
	}
	resp, _ = b.do(http.MethodPost, "/console/keys/"+f.analyst.ID+"/limits", url.Values{"csrf_token": {csrf},
		"models": {"deepseek-chat, deepseek-*"}, "rpm": {"1"}, "tpm": {"200"}, "max_concurrent": {"3"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/keys/"+f.analyst.ID+"?saved=1" {
		t.Fatalf("set limits: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	k, _ := f.st.Key(context.Background(), f.analyst.ID)
	if k.RPM != 1 || k.TPM != 200 || k.MaxConcurrent != 3 || strings.Join(k.Models, ",") != "deepseek-chat,deepseek-*" {
		t.Fatalf("stored key %+v", k)
	}
	_, page = b.get("/console/keys/" + f.analyst.ID + "?saved=1")
	if !strings.Contains(page, `name="rpm" inputmode="numeric" value="1"`) || !strings.Contains(page, "Saved.") {
		t.Fatalf("edit page after save:\n%s", page)
	}
	for _, bad := range []url.Values{{"rpm": {"many"}}, {"rpm": {"-1"}}, {"models": {"[x"}}} {
		bad.Set("csrf_token", csrf)
		resp, page := b.do(http.MethodPost, "/console/keys/"+f.analyst.ID+"/limits", bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `class="error"`) {
			t.Errorf("%v: %d", bad, resp.StatusCode)
		}
	}
	if k2, _ := f.st.Key(context.Background(), f.analyst.ID); k2.RPM != 1 {
		t.Fatalf("a refused form changed the key: %+v", k2)
	}
	if resp, _ := b.get("/console/keys/nope"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown key: %d", resp.StatusCode)
	}
}

// A signed-in admin whose own key is restricted to one model cannot give
// a key more than that (admin.SetKeyLimits: the admin API's grant rule).
func TestEditCannotGrantMoreThanOwn(t *testing.T) {
	f := newFixture(t)
	narrow, err := admin.CreateKey(context.Background(), f.st, admin.KeyRequest{Name: "narrow", Role: "admin",
		Models: []string{"deepseek-chat"}}, time.Now(), f.policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	csrf := b.signIn(narrow.Key)
	for _, models := range []string{"", "*", "deepseek-*"} {
		resp, page := b.do(http.MethodPost, "/console/keys/"+f.analyst.ID+"/limits", url.Values{"csrf_token": {csrf}, "models": {models}, "rpm": {"5"}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "forbidden") {
			t.Errorf("models %q: %d", models, resp.StatusCode)
		}
	}
	if k, _ := f.st.Key(context.Background(), f.analyst.ID); k.RPM != 0 {
		t.Fatalf("widened: %+v", k)
	}
	if resp, _ := b.do(http.MethodPost, "/console/keys/"+f.analyst.ID+"/limits", url.Values{"csrf_token": {csrf}, "models": {"deepseek-chat"}, "rpm": {"5"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("within its own models: %d", resp.StatusCode)
	}
	if resp, _ := b.do(http.MethodPost, "/console/clients", url.Values{"csrf_token": {csrf}, "name": {"c"}, "role": {"developer"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unrestricted client from a restricted admin: %d", resp.StatusCode)
	}
}

// Keys and clients move between teams; the access control is told.
func TestSetTeam(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	csrf := b.signIn(f.adminKey)
	if resp, _ := b.do(http.MethodPost, "/console/clients/"+f.client.ID+"/team", url.Values{"csrf_token": {csrf}, "team": {"data-team"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("client into team: %d", resp.StatusCode)
	}
	if f.teamOf(store.KindClient, f.client.ID) != "data-team" || f.teamsChanged != 1 {
		t.Fatalf("client team %q, changed %d", f.teamOf(store.KindClient, f.client.ID), f.teamsChanged)
	}
	if resp, _ := b.do(http.MethodPost, "/console/keys/"+f.analyst.ID+"/team", url.Values{"csrf_token": {csrf}, "team": {""}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("key out of team: %d", resp.StatusCode)
	}
	if f.teamOf(store.KindKey, f.analyst.ID) != "" {
		t.Fatal("key still in its team")
	}
	if resp, _ := b.do(http.MethodPost, "/console/keys/"+f.analyst.ID+"/team", url.Values{"csrf_token": {csrf}, "team": {"no-such-team"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown team: %d", resp.StatusCode)
	}
	if resp, _ := b.do(http.MethodPost, "/console/keys/nope/team", url.Values{"csrf_token": {csrf}, "team": {"data-team"}}); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("unknown key joined a team")
	}
}

// An OAuth2 client is created with its secret shown once (with a copy
// button) and its limits edited.
func TestCreateAndEditClient(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	csrf := b.signIn(f.adminKey)
	resp, page := b.do(http.MethodPost, "/console/clients", url.Values{"csrf_token": {csrf}, "name": {"batch-svc"},
		"role": {"developer"}, "scopes": {"chat batch"}, "models": {"deepseek-chat"}, "rpm": {"30"}})
	if resp.StatusCode != http.StatusCreated || !strings.Contains(page, `id="new-client-secret"`) || !strings.Contains(page, `data-copy="new-client-secret"`) {
		t.Fatalf("create client: %d\n%s", resp.StatusCode, page)
	}
	cs, _ := f.st.ListClients(context.Background())
	var id string
	for _, c := range cs {
		if c.Name == "batch-svc" {
			id = c.ID
			if c.RPM != 30 || strings.Join(c.Scopes, " ") != "chat batch" {
				t.Fatalf("stored client %+v", c)
			}
		}
	}
	if id == "" {
		t.Fatal("client not stored")
	}
	if _, again := b.get("/console/keys"); strings.Contains(again, "new-client-secret") {
		t.Fatal("the secret is shown again")
	}
	if resp, _ := b.do(http.MethodPost, "/console/clients/"+id+"/limits", url.Values{"csrf_token": {csrf}, "rpm": {"2"}, "models": {"deepseek-chat"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("client limits: %d", resp.StatusCode)
	}
	if c, _ := f.st.Client(context.Background(), id); c.RPM != 2 {
		t.Fatalf("client rpm %d", c.RPM)
	}
	if resp, page := b.do(http.MethodPost, "/console/clients", url.Values{"csrf_token": {csrf}, "name": {""}, "role": {"developer"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "name is required") {
		t.Fatalf("nameless client: %d", resp.StatusCode)
	}
}

// Teams are created and edited; a duplicate or bad name is refused.
func TestCreateAndEditTeam(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	csrf := b.signIn(f.adminKey)
	resp, _ := b.do(http.MethodPost, "/console/teams", url.Values{"csrf_token": {csrf}, "name": {"research"}, "models": {"deepseek-*"}, "tpm": {"9000"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/teams/research?saved=1" {
		t.Fatalf("create team: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	ts := f.st.(store.TeamStore)
	if tm, err := ts.Team(context.Background(), "research"); err != nil || tm.TPM != 9000 || f.teamsChanged != 1 {
		t.Fatalf("team %+v %v (changed %d)", tm, err, f.teamsChanged)
	}
	for _, name := range []string{"research", "has space", "a/b"} {
		if resp, page := b.do(http.MethodPost, "/console/teams", url.Values{"csrf_token": {csrf}, "name": {name}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `class="error"`) {
			t.Errorf("team %q: %d", name, resp.StatusCode)
		}
	}
	if resp, _ := b.do(http.MethodPost, "/console/teams/research", url.Values{"csrf_token": {csrf}, "models": {"[x"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad model pattern: %d", resp.StatusCode)
	}
	if resp, _ := b.do(http.MethodPost, "/console/teams/research", url.Values{"csrf_token": {csrf}, "rpm": {"12"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit team: %d", resp.StatusCode)
	}
	if tm, _ := ts.Team(context.Background(), "research"); tm.RPM != 12 || tm.TPM != 0 || tm.Models != nil {
		t.Fatalf("edited team %+v", tm)
	}
	if _, page := b.get("/console/teams/research"); !strings.Contains(page, `name="rpm" inputmode="numeric" value="12"`) {
		t.Fatalf("team page:\n%s", page)
	}
	if resp, _ := b.do(http.MethodPost, "/console/teams/ghost", url.Values{"csrf_token": {csrf}, "rpm": {"x"}}); resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
		t.Fatalf("bad edit: %d", resp.StatusCode)
	}
}

// Budgets: set and delete a runtime budget from a key's page and the
// Budgets page; the Budgets page shows each budget's state.
func TestBudgets(t *testing.T) {
	f := newFixture(t)
	f.budgets = []admin.BudgetView{
		{Subject: "key:" + f.analyst.ID, Period: "day", Currency: "USD", Amount: "1.00", Spent: "1.20", Ratio: 1.2, Soft: 0.8},
		{Subject: "team:data-team", Period: "month", Currency: "CNY", Amount: "100.00", Spent: "85.00", Ratio: 0.85, Soft: 0.8},
		{Subject: "client:" + f.client.ID, Period: "week", Currency: "USD", Amount: "10.00", Spent: "1.00", Ratio: 0.1, Soft: 0.8},
	}
	b := f.browser()
	csrf := b.signIn(f.adminKey)
	_, page := b.get("/console/budgets")
	for _, want := range []string{"exhausted: refused", "past soft threshold", `data-budget="team:data-team/month/CNY"`, ">ok<"} {
		if !strings.Contains(page, want) {
			t.Errorf("budgets page lacks %q", want)
		}
	}
	back := "/console/keys/" + f.analyst.ID
	resp, _ := b.do(http.MethodPost, "/console/budgets", url.Values{"csrf_token": {csrf}, "subject": {"key:" + f.analyst.ID},
		"period": {"day"}, "currency": {"USD"}, "amount": {"2.50"}, "soft": {"0.5"}, "back": {back}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != back {
		t.Fatalf("set budget: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	ov := f.overrides()
	if len(ov) != 1 || ov[0].Amount != "2.50" || ov[0].Soft != 0.5 {
		t.Fatalf("overrides %+v", ov)
	}
	_, page = b.get(back)
	if !strings.Contains(page, `data-override="key:`+f.analyst.ID+`/day/USD"`) || !strings.Contains(page, "exhausted: refused") || strings.Contains(page, "team:data-team") {
		t.Fatalf("key page budgets:\n%s", page)
	}
	if resp, _ := b.do(http.MethodPost, "/console/budgets", url.Values{"csrf_token": {csrf}, "subject": {"x"}, "period": {"day"},
		"currency": {"USD"}, "amount": {"1"}, "back": {"https://evil.example/"}}); resp.Header.Get("Location") != "/console/budgets" {
		t.Fatalf("open redirect: %s", resp.Header.Get("Location"))
	}
	if resp, _ := b.do(http.MethodPost, "/console/budgets", url.Values{"csrf_token": {csrf}, "subject": {"x"}, "soft": {"lots"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad soft: %d", resp.StatusCode)
	}
	resp, _ = b.do(http.MethodPost, "/console/budgets/delete", url.Values{"csrf_token": {csrf}, "subject": {"key:" + f.analyst.ID},
		"period": {"day"}, "currency": {"USD"}})
	if resp.StatusCode != http.StatusSeeOther || len(f.overrides()) != 1 { // the "x" one stays
		t.Fatalf("delete budget: %d %+v", resp.StatusCode, f.overrides())
	}
}

// A finished batch is found by id and its output and error files download
// as attachments.
func TestBatchDownload(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.signIn(f.adminKey)
	_, page := b.get("/console/cache?batch=batch_done")
	if !strings.Contains(page, `href="/console/batches/batch_done/output"`) || !strings.Contains(page, `href="/console/batches/batch_done/errors"`) {
		t.Fatalf("lookup:\n%s", page)
	}
	resp, body := b.get("/console/batches/batch_done/output")
	if resp.StatusCode != http.StatusOK || body != `{"custom_id":"a"}`+"\n" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="batch_done-output.jsonl"` {
		t.Fatalf("output: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, body := b.get("/console/batches/batch_done/errors"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"b"`) {
		t.Fatalf("errors: %d %q", resp.StatusCode, body)
	}
	if resp, _ := b.get("/console/batches/nope/output"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown batch: %d", resp.StatusCode)
	}
	if _, page := b.get("/console/cache?batch=nope"); !strings.Contains(page, `class="error"`) {
		t.Fatal("unknown batch lookup shows no error")
	}
}
