package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// replicaRedisDB is the Redis database this test owns and flushes; the
// other tests that share the server use other databases.
const replicaRedisDB = 7

// Three `dsgate serve` replicas share one PostgreSQL store and one Redis:
// a key's requests-per-minute limit holds across them under a concurrent
// burst, an OAuth2 token issued by one replica is accepted by the others,
// and a token revoked at one replica is refused by the others within a
// second.
func TestReplicasShareLimitsTokensAndRevocation(t *testing.T) {
	redisAddr := flushedRedis(t)
	dsn := freshPostgres(t)

	// The analyst role may chat but not list models: GET /v1/models
	// authenticates the key (warming each replica's key cache) and is then
	// refused by RBAC, before the rate limiter counts it.
	key := runCLI(t, "keys", "create", "--db", dsn, "--name", "burst", "--role", "analyst", "--rpm", "120")["key"]
	cl := runCLI(t, "clients", "create", "--db", dsn, "--name", "backend", "--role", "developer", "--rpm", "100000")
	client := oauthClient{id: cl["client_id"], secret: cl["client_secret"]}
	if key == "" || client.id == "" || client.secret == "" {
		t.Fatalf("CLI printed no key or client: %q %+v", key, cl)
	}

	sim := startSim(t, "sim", 0)
	dir := t.TempDir()
	kek := filepath.Join(dir, "signing.kek")
	if err := os.WriteFile(kek, []byte(randomHex(t, 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The first replica creates the token-signing key; the other two start
	// together once it exists, as in a rolling deployment. (Replicas that
	// start together against an empty store may each create a key: see
	// TestReplicasStartingTogetherAcceptEachOthersTokens.)
	shared := replicaConfig(dsn, redisAddr, kek, sim)
	replicas := []*gatewayProc{launchReplica(t, 1, shared)}
	waitReady(t, "replica 1", replicas[0])
	replicas = append(replicas, launchReplica(t, 2, shared), launchReplica(t, 3, shared))
	waitReady(t, "replica 2", replicas[1])
	waitReady(t, "replica 3", replicas[2])

	t.Run("rate limit across replicas", func(t *testing.T) { checkSharedRateLimit(t, replicas, key) })
	t.Run("token from one replica, revoked at another", func(t *testing.T) {
		checkTokenAcrossReplicas(t, replicas, client)
	})
}

// Replicas started at the same moment against an empty store may each
// create a token-signing key. Every replica must still accept the tokens
// of every other one, at once.
//
// Regression test for a bug found by the test above: SigningKeys.PublicKey
// (internal/auth/signing.go) used to re-read the store for an unknown kid
// at most once a second after its own last reload, so for up to a second
// after start-up a replica refused, with 401 "unknown signing key", tokens
// signed with a key another replica added just after it loaded its keys.
func TestReplicasStartingTogetherAcceptEachOthersTokens(t *testing.T) {
	redisAddr := flushedRedis(t)
	sim := startSim(t, "sim", 0)
	kek := filepath.Join(t.TempDir(), "signing.kek")
	if err := os.WriteFile(kek, []byte(randomHex(t, 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newClient()
	for attempt := range 10 {
		t.Run(fmt.Sprintf("start %d", attempt+1), func(t *testing.T) {
			dsn := freshPostgres(t)
			cl := runCLI(t, "clients", "create", "--db", dsn, "--name", "backend", "--role", "developer")
			client := oauthClient{id: cl["client_id"], secret: cl["client_secret"]}
			shared := replicaConfig(dsn, redisAddr, kek, sim)
			replicas := make([]*gatewayProc, 3)
			for i := range replicas {
				replicas[i] = launchReplica(t, i+1, shared)
			}
			for i, g := range replicas {
				waitReady(t, fmt.Sprintf("replica %d", i+1), g)
			}
			for i, from := range replicas {
				tok := fetchToken(t, c, from, client)
				for j, to := range replicas {
					if code, body := send(t, c, "GET", to.base+"/v1/models", tok, ""); code != 200 {
						t.Errorf("token from replica %d at replica %d: %d %s", i+1, j+1, code, body)
					}
				}
			}
		})
	}
}

// checkSharedRateLimit sends 400 requests at once, spread over the
// replicas, with a key allowed 120 a minute: about 120 are admitted, the
// rest are refused with 429 and the rate-limit headers.
func checkSharedRateLimit(t *testing.T, replicas []*gatewayProc, key string) {
	const burst, rpm = 400, 120
	c := newClient()
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = burst
	for _, g := range replicas {
		if code, body := send(t, c, "GET", g.base+"/v1/models", key, ""); code != http.StatusForbidden {
			t.Fatalf("warming %s: got %d, want 403: %s", g.base, code, body)
		}
	}

	type answer struct {
		code   int
		header http.Header
		body   string
	}
	answers := make([]answer, burst)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", replicas[i%len(replicas)].base+"/v1/chat/completions",
				strings.NewReader(chatBody("deepseek-chat", false)))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			<-start
			resp, err := c.Do(req)
			if err != nil {
				answers[i] = answer{body: err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers[i] = answer{resp.StatusCode, resp.Header, string(b)}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)

	counts := map[int]int{}
	perReplica := make([]int, len(replicas))
	var badHeaders int
	for i, a := range answers {
		counts[a.code]++
		switch a.code {
		case http.StatusOK:
			perReplica[i%len(replicas)]++
			if a.header.Get("X-Ratelimit-Limit-Requests") != strconv.Itoa(rpm) {
				badHeaders++
			}
		case http.StatusTooManyRequests:
			if err := check429(a.header, a.body, rpm); err != nil {
				if badHeaders == 0 {
					t.Errorf("429 from replica %d: %v", i%len(replicas)+1, err)
				}
				badHeaders++
			}
		default:
			if counts[a.code] == 1 {
				t.Errorf("unexpected answer %d: %s", a.code, a.body)
			}
		}
	}
	t.Logf("burst of %d over %d replicas in %v: %v; admitted per replica %v", burst, len(replicas),
		took.Round(time.Millisecond), counts, perReplica)
	// GCRA refills one request every 60s/rpm while the burst runs.
	refill := int(took / (time.Minute / rpm))
	if got, lo, hi := counts[http.StatusOK], (rpm*98+99)/100, rpm*102/100; got < lo || got > hi {
		t.Errorf("admitted %d, want %d±2%% (%d..%d; %d may have refilled during the %v burst)",
			got, rpm, lo, hi, refill, took.Round(time.Millisecond))
	}
	if n := counts[http.StatusOK] + counts[http.StatusTooManyRequests]; n != burst {
		t.Errorf("%d of %d answers were neither 200 nor 429", burst-n, burst)
	}
	if badHeaders > 0 {
		t.Errorf("%d answers lacked the expected rate-limit headers", badHeaders)
	}
	for i, n := range perReplica {
		if n == 0 {
			t.Errorf("replica %d admitted nothing: the burst did not exercise it", i+1)
		}
	}
}

// check429 checks a rejection's OpenAI error body and its headers.
func check429(h http.Header, body string, rpm int) error {
	if !strings.Contains(body, `"rate_limit_exceeded"`) {
		return fmt.Errorf("body %s", body)
	}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 {
		return fmt.Errorf("retry-after %q", h.Get("Retry-After"))
	}
	if ms, err := strconv.Atoi(h.Get("Retry-After-Ms")); err != nil || ms < 1 {
		return fmt.Errorf("retry-after-ms %q", h.Get("Retry-After-Ms"))
	}
	if h.Get("X-Ratelimit-Limit-Requests") != strconv.Itoa(rpm) {
		return fmt.Errorf("x-ratelimit-limit-requests %q", h.Get("X-Ratelimit-Limit-Requests"))
	}
	if rem := h.Get("X-Ratelimit-Remaining-Requests"); rem != "0" {
		return fmt.Errorf("x-ratelimit-remaining-requests %q", rem)
	}
	if _, err := time.ParseDuration(h.Get("X-Ratelimit-Reset-Requests")); err != nil {
		return fmt.Errorf("x-ratelimit-reset-requests %q", h.Get("X-Ratelimit-Reset-Requests"))
	}
	return nil
}

type oauthClient struct{ id, secret string }

// checkTokenAcrossReplicas: a token issued by replica 1 works at replicas 2
// and 3; revoked at replica 2, replicas 1 and 3 refuse it within a second.
func checkTokenAcrossReplicas(t *testing.T, replicas []*gatewayProc, cl oauthClient) {
	c := newClient()
	tok := fetchToken(t, c, replicas[0], cl)
	for _, g := range replicas[1:] {
		if code, body := send(t, c, "POST", g.base+"/v1/chat/completions", tok, chatBody("deepseek-chat", false)); code != 200 {
			t.Fatalf("token from replica 1 at %s: %d %s", g.base, code, body)
		}
	}

	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, _ := http.NewRequest("POST", replicas[1].base+"/oauth2/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.id), url.QueryEscape(cl.secret))
	sent := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	revoked := time.Now()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke at replica 2: %d %s", resp.StatusCode, b)
	}
	if code, body := send(t, c, "GET", replicas[1].base+"/v1/models", tok, ""); code != 401 {
		t.Errorf("replica 2 still accepts the token it revoked: %d %s", code, body)
	}

	// Replicas 1 and 3 learn of the revocation from the shared store.
	const bound = time.Second
	refused := make([]time.Time, len(replicas))
	bodies := make([]string, len(replicas))
	var wg sync.WaitGroup
	for _, i := range []int{0, 2} {
		wg.Go(func() { refused[i], bodies[i] = pollUntil401(c, replicas[i].base, tok, revoked.Add(3*bound)) })
	}
	wg.Wait()
	for _, i := range []int{0, 2} {
		if refused[i].IsZero() {
			t.Errorf("replica %d did not refuse the revoked token within %v: %s", i+1, 3*bound, bodies[i])
			continue
		}
		if !strings.Contains(bodies[i], "revoked") {
			t.Errorf("replica %d refused the token for another reason: %s", i+1, bodies[i])
		}
		d := refused[i].Sub(revoked)
		if d > bound {
			t.Errorf("replica %d refused the revoked token %v after the revocation, want within %v", i+1, d, bound)
		}
		t.Logf("replica %d refused the revoked token %v after the revocation returned (the revoke call took %v)",
			i+1, d.Round(time.Millisecond), revoked.Sub(sent).Round(time.Millisecond))
	}
}

// pollUntil401 asks base for /v1/models with tok every 10ms until it
// answers 401 and returns when that answer arrived, with its body; the
// zero time if the deadline passed or the answer was neither 200 nor 401.
func pollUntil401(c *http.Client, base, tok string, deadline time.Time) (time.Time, string) {
	last := "no answer"
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", base+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.Do(req)
		if err != nil {
			last = err.Error()
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				return time.Now(), string(b)
			case http.StatusOK:
			default:
				return time.Time{}, last
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Time{}, last
}

// fetchToken gets an access token with client_secret_basic.
func fetchToken(t *testing.T, c *http.Client, g *gatewayProc, cl oauthClient) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", g.base+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(cl.id), url.QueryEscape(cl.secret))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &tok); err != nil || resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token from %s: %d %s", g.base, resp.StatusCode, b)
	}
	return tok.AccessToken
}

// send makes one request with a bearer credential.
func send(t *testing.T, c *http.Client, method, url, cred, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
