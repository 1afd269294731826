package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// BalancePath is DeepSeek's account balance endpoint
// (https://api-docs.deepseek.com/api/get-user-balance).
const BalancePath = "/user/balance"

// maxBalanceBody bounds the balance answer read into memory; DeepSeek's is
// a few hundred bytes.
const maxBalanceBody = 64 << 10

// Balance is an account balance as DeepSeek's GET /user/balance reports it:
//
//	{"is_available": true, "balance_infos": [{"currency": "CNY",
//	  "total_balance": "110.00", "granted_balance": "10.00",
//	  "topped_up_balance": "100.00"}]}
//
// Amounts arrive as decimal strings; they are parsed into float64, which is
// exact enough for a gauge and an alert threshold.
type Balance struct {
	// Available is DeepSeek's is_available: whether the account has
	// balance left for API calls.
	Available bool          `json:"is_available"`
	Infos     []BalanceInfo `json:"balance_infos"`
	// CheckedAt is when the gateway read it (not part of DeepSeek's answer).
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// BalanceInfo is the balance in one currency.
type BalanceInfo struct {
	Currency string `json:"currency"`
	Total    Amount `json:"total_balance"`
	Granted  Amount `json:"granted_balance"`
	ToppedUp Amount `json:"topped_up_balance"`
}

// Amount is a money figure that DeepSeek encodes as a decimal string
// ("110.00"); a JSON number is accepted too. It marshals back as a number.
type Amount float64

// UnmarshalJSON accepts "12.34", 12.34 and null (zero).
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		*a = 0
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(uq)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("amount %s: not a decimal number", b)
	}
	*a = Amount(f)
	return nil
}

// BalanceError is a failed balance read. It never carries the key or the
// URL's userinfo.
type BalanceError struct {
	StatusCode int // 0 for transport and decoding errors
	Msg        string
}

func (e *BalanceError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("balance: HTTP %d: %s", e.StatusCode, e.Msg)
	}
	return "balance: " + e.Msg
}

// Unauthorized reports whether the upstream refused the key.
func (e *BalanceError) Unauthorized() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
}

// FetchBalance reads the balance once from baseURL (the server root, e.g.
// https://api.deepseek.com) with apiKey as the bearer token.
func FetchBalance(ctx context.Context, client *http.Client, baseURL, apiKey string) (Balance, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(baseURL, "/")+BalancePath, nil)
	if err != nil {
		return Balance{}, &BalanceError{Msg: "invalid upstream URL"}
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	return doBalance(client, req, time.Now)
}

func doBalance(client *http.Client, req *http.Request, now func() time.Time) (Balance, error) {
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		msg := "request failed"
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "timed out"
		}
		return Balance{}, &BalanceError{Msg: msg}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBalanceBody))
	if err != nil {
		return Balance{}, &BalanceError{StatusCode: resp.StatusCode, Msg: "reading the answer failed"}
	}
	if resp.StatusCode != http.StatusOK {
		return Balance{}, &BalanceError{StatusCode: resp.StatusCode, Msg: http.StatusText(resp.StatusCode)}
	}
	var b Balance
	if err := json.Unmarshal(body, &b); err != nil {
		return Balance{}, &BalanceError{Msg: "undecodable answer: " + err.Error()}
	}
	b.CheckedAt = now()
	return b, nil
}

// balanceState is the last balance read by PollBalance and the count of
// failed reads; it lives inside Upstream.
type balanceState struct {
	last     atomic.Pointer[Balance]
	failures atomic.Uint64
}

// Balance returns the last balance read, and false before the first
// successful read (or when polling is off).
func (u *Upstream) Balance() (Balance, bool) {
	b := u.bal.last.Load()
	if b == nil {
		return Balance{}, false
	}
	return *b, true
}

// BalancePollFailures counts failed balance reads since the upstream was built.
func (u *Upstream) BalancePollFailures() uint64 { return u.bal.failures.Load() }

// PollsBalance reports whether PollBalance does anything for u: only a
// deepseek upstream with a positive BalancePollInterval polls.
func (u *Upstream) PollsBalance() bool {
	return u.opts.Kind == KindDeepSeek && u.opts.BalancePollInterval > 0
}

// PollBalance reads the balance at once and then every
// BalancePollInterval until ctx is done, in its own goroutine: requests
// never wait for it. A failed read is logged, counted and leaves the last
// good balance in place (its CheckedAt tells how old it is). It returns
// at once when PollsBalance is false.
func (u *Upstream) PollBalance(ctx context.Context) {
	if !u.PollsBalance() {
		return
	}
	interval := u.opts.BalancePollInterval
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		u.pollBalanceOnce(ctx, min(interval, 30*time.Second))
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (u *Upstream) pollBalanceOnce(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base+BalancePath, nil)
	if err != nil {
		u.balanceFailed(ctx, &BalanceError{Msg: "invalid upstream URL"})
		return
	}
	if u.auth != "" {
		req.Header.Set("Authorization", u.auth)
	}
	b, err := doBalance(u.client, req, u.opts.Now)
	if err != nil {
		u.balanceFailed(ctx, err)
		return
	}
	b.Infos = validCurrencies(b.Infos)
	u.bal.last.Store(&b)
}

func (u *Upstream) balanceFailed(ctx context.Context, err error) {
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return // shutting down or reloading, not a failure of the upstream
	}
	u.bal.failures.Add(1)
	u.log.Warn("reading the upstream's balance failed", "upstream", u.Name(), "error", err.Error())
}

// validCurrencies keeps entries whose currency is a three-letter code, so
// the currency label of the balance gauge stays bounded whatever the
// upstream sends.
func validCurrencies(in []BalanceInfo) []BalanceInfo {
	out := in[:0]
	for _, bi := range in {
		c := strings.ToUpper(strings.TrimSpace(bi.Currency))
		if len(c) != 3 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			continue
		}
		bi.Currency = c
		out = append(out, bi)
	}
	return out
}
