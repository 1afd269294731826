package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/store"
)

// floodEnv is an OAuth server whose checks of the secret "bogus" block
// until released, counting how many of them run at once (issue 13 item 7: 100 concurrent bogus
// token requests ran 100 argon2id checks of 19 MiB at once, 1.9 GB RSS).
type floodEnv struct {
	*env
	running, maxRunning, calls atomic.Int64
	hold                       chan struct{}
}

func newFloodEnv(t *testing.T) *floodEnv {
	e := &floodEnv{env: newEnv(t), hold: make(chan struct{})}
	for _, g := range e.oauth.gates {
		g.wait = time.Minute // queued checks wait for the test, not the clock
	}
	e.oauth.verify = func(phc, secret string) (bool, error) {
		e.calls.Add(1)
		if secret != "bogus" {
			return VerifySecret(phc, secret)
		}
		// The flood's checks are counted and wait for the test.
		n := e.running.Add(1)
		for m := e.maxRunning.Load(); n > m && !e.maxRunning.CompareAndSwap(m, n); m = e.maxRunning.Load() {
		}
		<-e.hold
		e.running.Add(-1)
		return VerifySecret(phc, secret)
	}
	return e
}

func (e *floodEnv) token(addr, id, secret string) *httptest.ResponseRecorder {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	e.oauth.ServeHTTP(rec, req)
	return rec
}

// flood sends n bogus requests at once, addr(i) naming each one's address,
// and returns once every request has either been answered or is inside
// the verification gate; the answered ones are counted by status.
func (e *floodEnv) flood(t *testing.T, n int, addr func(int) string, wg *sync.WaitGroup) map[int]int {
	var mu sync.Mutex
	statuses := map[int]int{}
	var answered atomic.Int64
	for i := range n {
		wg.Go(func() {
			rec := e.token(addr(i), fmt.Sprintf("ghost-%d", i), "bogus")
			mu.Lock()
			statuses[rec.Code]++
			mu.Unlock()
			answered.Add(1)
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		g := e.oauth.gates[0] // made-up ids
		g.mu.Lock()
		pending := g.pending
		g.mu.Unlock()
		if int(answered.Load())+pending == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	out := map[int]int{}
	for k, v := range statuses {
		out[k] = v
	}
	return out
}

func TestTokenFloodBounded(t *testing.T) {
	e := newFloodEnv(t)
	secret := e.addClient(t, "svc", "developer")
	if rec := e.token("198.51.100.9:1", "svc", secret); rec.Code != 200 {
		t.Fatalf("first token: %d %s", rec.Code, rec.Body)
	}
	e.calls.Store(0)

	// 150 bogus requests from 150 addresses at once.
	var wg sync.WaitGroup
	const n = 150
	statuses := e.flood(t, n, func(i int) string { return fmt.Sprintf("10.0.%d.%d:1", i/250, i%250) }, &wg)
	admitted := e.oauth.opts.MaxVerifications + e.oauth.opts.MaxQueuedVerifications
	if got := statuses[http.StatusServiceUnavailable]; got != n-admitted {
		t.Errorf("refused at once: %d, want %d (statuses %v)", got, n-admitted, statuses)
	}
	if m := e.maxRunning.Load(); m > int64(e.oauth.opts.MaxVerifications) {
		t.Errorf("%d secret checks ran at once, bound %d", m, e.oauth.opts.MaxVerifications)
	}
	// During the flood the legitimate client still gets its token: its
	// secret passed recently, so no check is needed.
	if rec := e.token("198.51.100.9:2", "svc", secret); rec.Code != 200 {
		t.Fatalf("legitimate token during the flood: %d %s", rec.Code, rec.Body)
	}
	// A client never seen before gets its token too: known ids have their
	// own gate.
	fresh := e.addClient(t, "fresh", "developer")
	if rec := e.token("198.51.100.11:1", "fresh", fresh); rec.Code != 200 {
		t.Fatalf("first token of a new client during the flood: %d %s", rec.Code, rec.Body)
	}
	close(e.hold)
	wg.Wait()
	if c := e.calls.Load(); c != int64(admitted)+1 {
		t.Errorf("%d secret checks for %d requests and one new client, want %d", c, n, admitted+1)
	}
	if m := e.maxRunning.Load(); m > int64(e.oauth.opts.MaxVerifications) {
		t.Errorf("%d secret checks ran at once, bound %d", m, e.oauth.opts.MaxVerifications)
	}
}

func TestTokenFloodOneAddress(t *testing.T) {
	e := newFloodEnv(t)
	secret := e.addClient(t, "svc", "developer")
	var wg sync.WaitGroup
	statuses := e.flood(t, 100, func(int) string { return "203.0.113.5:1" }, &wg)
	per := e.oauth.opts.MaxVerificationsPerAddress
	if got := statuses[http.StatusTooManyRequests]; got != 100-per {
		t.Errorf("refused at once: %d, want %d (statuses %v)", got, 100-per, statuses)
	}
	// Another address, never seen, gets a slot although one address floods.
	done := make(chan int)
	go func() { done <- e.token("198.51.100.9:1", "svc", secret).Code }()
	close(e.hold)
	if code := <-done; code != 200 {
		t.Fatalf("legitimate first token during a one-address flood: %d", code)
	}
	wg.Wait()
}

func TestTokenFailureLimit(t *testing.T) {
	e := newFloodEnv(t)
	close(e.hold)
	e.oauth.opts.Failures = NewFailureLimiter(FailureLimiterOptions{PerMinute: 3, Clock: e.clock.Now})
	secret := e.addClient(t, "svc", "developer")
	if rec := e.token("203.0.113.5:1", "svc", secret); rec.Code != 200 {
		t.Fatalf("first token: %d", rec.Code)
	}
	for i := range 3 {
		if rec := e.token("203.0.113.5:1", fmt.Sprintf("ghost-%d", i), "x"); rec.Code != 401 {
			t.Fatalf("failure %d: %d", i, rec.Code)
		}
	}
	calls := e.calls.Load()
	rec := e.token("203.0.113.5:1", "ghost", "x")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "temporarily_unavailable") {
		t.Fatalf("over the limit: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if e.calls.Load() != calls {
		t.Fatal("a blocked address still ran a secret check")
	}
	if rec := e.token("203.0.113.6:1", "ghost", "x"); rec.Code != 401 {
		t.Fatalf("another address: %d", rec.Code)
	}
	// A client that proved its secret from the limited address goes on.
	if rec := e.token("203.0.113.5:1", "svc", secret); rec.Code != 200 {
		t.Fatalf("proven client from the limited address: %d %s", rec.Code, rec.Body)
	}
	if rec := e.token("203.0.113.5:1", "svc", "wrong"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("wrong secret from the limited address: %d", rec.Code)
	}
}

// TestTokenFloodOnOneClientSparesOthers is trial #21: 40 workers with
// rotating source addresses sent wrong secrets for one known client id;
// the known-client gate, shared by every client, filled up and a first
// token request of another client from a clean address got 503. One
// client id now holds at most its share of the gate.
func TestTokenFloodOnOneClientSparesOthers(t *testing.T) {
	e := newFloodEnv(t)
	e.addClient(t, "victim", "developer")
	other := e.addClient(t, "other", "developer")

	const n = 40
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		answered atomic.Int64
	)
	for i := range n {
		wg.Go(func() {
			rec := e.token(fmt.Sprintf("10.1.%d.%d:1", i/250, i%250), "victim", "bogus")
			mu.Lock()
			statuses[rec.Code]++
			mu.Unlock()
			answered.Add(1)
		})
	}
	g := e.oauth.gates[1] // known ids
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		pending := g.pending
		g.mu.Unlock()
		if int(answered.Load())+pending == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if m := e.maxRunning.Load(); m >= int64(e.oauth.opts.MaxVerifications) {
		t.Errorf("the attacked client holds %d of %d check slots", m, e.oauth.opts.MaxVerifications)
	}
	// Another known client's first token request, from a clean address,
	// is served while the flood's checks still hold their places.
	if rec := e.token("198.51.100.20:1", "other", other); rec.Code != 200 {
		t.Fatalf("first token of another client during a flood on victim: %d %s", rec.Code, rec.Body)
	}
	close(e.hold)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if statuses[http.StatusOK] != 0 || statuses[http.StatusServiceUnavailable]+statuses[http.StatusUnauthorized] != n {
		t.Errorf("flood answers %v; want only 503 and 401", statuses)
	}
}

// TestControlCharacterClientIDIsUnknown: a client_id with a NUL or other
// control character names no client; it is answered like an unknown one
// (401, counted against the address) without a store read, instead of a
// store error's 503 that the failure limit never saw.
func TestControlCharacterClientIDIsUnknown(t *testing.T) {
	e := newFloodEnv(t)
	close(e.hold)
	e.oauth.opts.Failures = NewFailureLimiter(FailureLimiterOptions{PerMinute: 2, Clock: e.clock.Now})
	e.oauth.opts.Clients = pgLikeClients{e.oauth.opts.Clients}
	for i := range 2 {
		if rec := e.token("203.0.113.9:1", "x\x00y", "s"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("NUL client id, try %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if rec := e.token("203.0.113.9:1", "x\x00y", "s"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("NUL client ids are not counted as failures: %d", rec.Code)
	}
}

// pgLikeClients refuses ids PostgreSQL cannot compare (a NUL byte) with an
// error, as the real store does, where SQLite would just find nothing.
type pgLikeClients struct{ ClientLookup }

func (c pgLikeClients) Client(ctx context.Context, id string) (store.Client, error) {
	if strings.ContainsRune(id, 0) {
		return store.Client{}, errors.New(`invalid byte sequence for encoding "UTF8": 0x00`)
	}
	return c.ClientLookup.Client(ctx, id)
}
