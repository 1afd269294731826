package access_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/ratelimit"
)

// n choices each generate up to max_tokens, so the reservation counts n
// completion budgets. The limiter caps one reservation at TPM (a large
// request waits for a full bucket), so n=16 x 200 on a 3000-TPM key takes
// the whole minute and a second call is refused; before, it reserved one
// budget and four such calls ran at once.
func TestAdmitReservesEveryChoice(t *testing.T) {
	lim, err := ratelimit.New(ratelimit.Options{Backend: ratelimit.NewMemoryBackend()})
	if err != nil {
		t.Fatal(err)
	}
	a := access.New(access.Options{Disabled: true, Limiter: lim, Defaults: ratelimit.Limits{TPM: 3000}})
	parse := func(body string) *openai.Request {
		r, err := openai.Parse(openai.EndpointChat, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	one := parse(`{"model":"m","max_tokens":200,"messages":[{"role":"user","content":"x"}]}`)
	for _, body := range []string{
		`{"model":"m","n":16,"max_tokens":200,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"m","n":3,"messages":[{"role":"user","content":"x"}]}`, // 3 x default 1024
		`{"model":"m","n":16,"max_tokens":9223372036854775807,"messages":[{"role":"user","content":"x"}]}`,
	} {
		p := &auth.Principal{ID: body, Kind: auth.KindKey}
		g, err := a.Admit(context.Background(), p, parse(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var rl *ratelimit.Error
		if _, err := a.Admit(context.Background(), p, one); !errors.As(err, &rl) {
			t.Errorf("%s then n=1 x 200 on a 3000-TPM key: err %v, want a rate-limit refusal", body, err)
		}
		g.Done(context.Background(), openai.Usage{}, false)
	}
}
