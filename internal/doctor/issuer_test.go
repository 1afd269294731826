package doctor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit/idptest"
)

func TestCheckIssuer(t *testing.T) {
	op := idptest.Start(t, idptest.Options{})
	ctx := context.Background()
	client := &http.Client{Timeout: 3 * time.Second}
	checks := CheckIssuer(ctx, client, 3*time.Second, IssuerTarget{Name: "corp", Issuer: op.Issuer})
	want := []struct {
		name string
		st   Status
		has  string
	}{
		{"issuer corp discovery", OK, "jwks_uri " + op.Issuer + "/keys"},
		{"issuer corp keys", OK, "1 signing keys"},
		{"issuer corp clock", OK, "within"},
	}
	if len(checks) != len(want) {
		t.Fatalf("checks = %+v", checks)
	}
	for i, w := range want {
		if c := checks[i]; c.Name != w.name || c.Status != w.st || !strings.Contains(c.Detail, w.has) {
			t.Errorf("check %d = %+v, want %s %s %q", i, c, w.name, w.st, w.has)
		}
	}

	// An issuer URL that differs from the document's (a trailing slash).
	checks = CheckIssuer(ctx, client, 3*time.Second, IssuerTarget{Name: "corp", Issuer: op.Issuer + "/"})
	if checks[0].Status != Fail || !strings.Contains(checks[0].Detail, "want exactly") {
		t.Errorf("issuer mismatch: %+v", checks[0])
	}

	op.SetDown(true)
	checks = CheckIssuer(ctx, client, 3*time.Second, IssuerTarget{Name: "corp", Issuer: op.Issuer})
	if checks[0].Status != Fail || !strings.Contains(checks[0].Detail, "unreachable") {
		t.Errorf("IdP down: %+v", checks)
	}
}

// A host whose clock is two minutes off the issuer's fails the clock line.
func TestCheckIssuerClock(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(-2*time.Minute).UTC().Format(http.TimeFormat))
		w.Write([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","use":"sig","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`))
	}))
	defer srv.Close()
	checks := CheckIssuer(context.Background(), srv.Client(), time.Second, IssuerTarget{Name: "k8s", JWKSURL: srv.URL})
	if len(checks) != 3 || checks[0].Status != Skip || checks[1].Status != OK || checks[2].Status != Fail ||
		!strings.Contains(checks[2].Detail, "differs from the issuer's by 2m0s") {
		t.Fatalf("checks = %+v", checks)
	}
}
