package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

// deepseekBalance answers GET /user/balance the way DeepSeek documents it
// (https://api-docs.deepseek.com/api/get-user-balance): amounts are strings.
type deepseekBalance struct {
	mu     sync.Mutex
	status int
	body   string
	calls  atomic.Int64
	auth   atomic.Value // last Authorization header
}

func (d *deepseekBalance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.calls.Add(1)
	d.auth.Store(r.Header.Get("Authorization"))
	if r.Method != http.MethodGet || r.URL.Path != BalancePath {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer sk-test" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"message":"Authentication Fails, Your api key: ****test is invalid","type":"authentication_error","param":null,"code":"invalid_request_error"}}`))
		return
	}
	d.mu.Lock()
	status, body := d.status, d.body
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

func (d *deepseekBalance) set(status int, body string) {
	d.mu.Lock()
	d.status, d.body = status, body
	d.mu.Unlock()
}

const docBalance = `{"is_available":true,"balance_infos":[{"currency":"CNY","total_balance":"110.00","granted_balance":"10.00","topped_up_balance":"100.00"},{"currency":"USD","total_balance":"2.50","granted_balance":"0.00","topped_up_balance":"2.50"}]}`

func TestFetchBalanceDeepSeekShape(t *testing.T) {
	t.Parallel()
	ds := &deepseekBalance{status: http.StatusOK, body: docBalance}
	srv := httptest.NewServer(ds)
	defer srv.Close()
	b, err := FetchBalance(t.Context(), srv.Client(), srv.URL+"/", "sk-test")
	if err != nil {
		t.Fatal(err)
	}
	if !b.Available || len(b.Infos) != 2 || b.CheckedAt.IsZero() {
		t.Fatalf("balance = %+v", b)
	}
	cny := b.Infos[0]
	if cny.Currency != "CNY" || cny.Total != 110 || cny.Granted != 10 || cny.ToppedUp != 100 {
		t.Errorf("CNY entry = %+v", cny)
	}
	if b.Infos[1].Total != 2.5 {
		t.Errorf("USD total = %v", b.Infos[1].Total)
	}
	if got := ds.auth.Load(); got != "Bearer sk-test" {
		t.Errorf("Authorization = %v", got)
	}

	_, err = FetchBalance(t.Context(), srv.Client(), srv.URL, "sk-wrong")
	var be *BalanceError
	if !errors.As(err, &be) || !be.Unauthorized() {
		t.Fatalf("wrong key: err = %v, want an unauthorized BalanceError", err)
	}
	if msg := err.Error(); msg != "balance: HTTP 401: Unauthorized" {
		t.Errorf("error text %q leaks the upstream body or differs", msg)
	}
}

func TestAmountDecoding(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Amount{`"110.00"`: 110, `" 0.5 "`: 0.5, `3`: 3, `null`: 0, `"-1.25"`: -1.25} {
		var a Amount
		if err := json.Unmarshal([]byte(in), &a); err != nil || a != want {
			t.Errorf("%s: got %v, %v; want %v", in, a, err, want)
		}
	}
	for _, bad := range []string{`"ten"`, `true`, `""`} {
		var a Amount
		if err := json.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("%s accepted as %v", bad, a)
		}
	}
}

func newBalanceUpstream(t *testing.T, url, kind string, every time.Duration) *Upstream {
	t.Helper()
	return New(Options{Name: "deepseek", Kind: kind, URL: url, APIKey: "sk-test", BalancePollInterval: every})
}

func TestPollBalanceKeepsLastGoodAndCountsFailures(t *testing.T) {
	t.Parallel()
	ds := &deepseekBalance{status: http.StatusOK, body: docBalance}
	srv := httptest.NewServer(ds)
	defer srv.Close()
	u := newBalanceUpstream(t, srv.URL, KindDeepSeek, 20*time.Millisecond)
	if _, ok := u.Balance(); ok {
		t.Fatal("balance known before any poll")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { u.PollBalance(ctx); close(done) }()

	testkit.Eventually(t, 5*time.Second, "first balance", func() bool { _, ok := u.Balance(); return ok })
	first, _ := u.Balance()
	if first.Infos[0].Total != 110 {
		t.Fatalf("first balance %+v", first)
	}
	st := u.Status()
	if st.Balance == nil || st.Balance.Infos[0].Currency != "CNY" {
		t.Errorf("Status.Balance = %+v", st.Balance)
	}

	// The upstream fails: the failures are counted, the last good balance stays.
	ds.set(http.StatusServiceUnavailable, `{"error":{"message":"Server busy"}}`)
	testkit.Eventually(t, 5*time.Second, "two failed polls", func() bool { return u.BalancePollFailures() >= 2 })
	if b, ok := u.Balance(); !ok || b.Infos[0].Total != 110 || !b.CheckedAt.Equal(first.CheckedAt) {
		t.Errorf("after failures balance = %+v (ok=%v), want the last good one", b, ok)
	}

	// An undecodable answer is a failure too.
	before := u.BalancePollFailures()
	ds.set(http.StatusOK, `<html>maintenance</html>`)
	testkit.Eventually(t, 5*time.Second, "decode failure", func() bool { return u.BalancePollFailures() > before })

	// Recovery replaces it.
	ds.set(http.StatusOK, `{"is_available":false,"balance_infos":[{"currency":"CNY","total_balance":"0.00","granted_balance":"0.00","topped_up_balance":"0.00"}]}`)
	testkit.Eventually(t, 5*time.Second, "new balance", func() bool { b, _ := u.Balance(); return !b.Available })

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("PollBalance did not return after cancel")
	}
}

// A request is never held up by a slow balance endpoint: polling runs on
// its own, and each read is bounded.
func TestPollBalanceDoesNotBlockRequests(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	pending := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == BalancePath {
			pending <- struct{}{}
			<-release
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	defer close(release)
	u := newBalanceUpstream(t, srv.URL, KindDeepSeek, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go u.PollBalance(ctx)
	<-pending // the poll is now stuck upstream until release closes
	// Begin and End must complete while the balance read is still held:
	// release only closes when the test returns, so a Begin or End that
	// waited for the poll would hang here (and the test would time out).
	if !u.Begin() {
		t.Fatal("Begin refused while a balance read is pending")
	}
	u.End(Success, time.Millisecond, nil)
}

func TestPollBalanceOnlyForDeepSeekWithInterval(t *testing.T) {
	t.Parallel()
	ds := &deepseekBalance{status: http.StatusOK, body: docBalance}
	srv := httptest.NewServer(ds)
	defer srv.Close()
	for name, u := range map[string]*Upstream{
		"openai kind": newBalanceUpstream(t, srv.URL, KindOpenAI, time.Millisecond),
		"interval 0":  newBalanceUpstream(t, srv.URL, KindDeepSeek, 0),
	} {
		if u.PollsBalance() {
			t.Errorf("%s: PollsBalance = true", name)
		}
		done := make(chan struct{})
		go func() { u.PollBalance(t.Context()); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatalf("%s: PollBalance did not return at once", name)
		}
	}
	if n := ds.calls.Load(); n != 0 {
		t.Errorf("balance endpoint called %d times", n)
	}
}

func TestValidCurrenciesBoundsLabels(t *testing.T) {
	t.Parallel()
	got := validCurrencies([]BalanceInfo{{Currency: "cny"}, {Currency: "USD "}, {Currency: "DROP TABLE"}, {Currency: "€€€"}, {Currency: ""}})
	if len(got) != 2 || got[0].Currency != "CNY" || got[1].Currency != "USD" {
		t.Errorf("validCurrencies = %+v", got)
	}
}
