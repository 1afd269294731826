package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
)

// IssuerTarget is a trusted external identity provider (auth.issuers) to
// check: its discovery document, its key set and the clock difference.
type IssuerTarget struct {
	Name    string
	Issuer  string
	JWKSURL string // set: discovery is not used
	// ClockSkew is the issuer's tolerance; a larger clock difference fails.
	ClockSkew time.Duration
	// Client fetches (with the issuer's CA and bearer token); default: the
	// doctor's client.
	Client *http.Client
	// Err, when set, is why no client could be made (a CA file that does
	// not read); the check fails with it.
	Err error
}

// CheckIssuer reports three lines for t: discovery (the document exists
// and names exactly t.Issuer), keys (the JWKS answers and holds usable
// signing keys) and clock (the difference from the issuer's Date header,
// which fails past t.ClockSkew: its tokens would look expired or not yet
// valid).
func CheckIssuer(ctx context.Context, client *http.Client, timeout time.Duration, t IssuerTarget) []Check {
	if t.Client != nil {
		client = t.Client
	}
	if t.ClockSkew <= 0 {
		t.ClockSkew = 30 * time.Second
	}
	prefix := "issuer " + t.Name + " "
	if t.Err != nil {
		return []Check{{Name: prefix + "setup", Status: Fail, Detail: t.Err.Error()}}
	}
	var checks []Check
	var date time.Time
	jwksURL := t.JWKSURL
	if jwksURL == "" {
		var md struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		url := strings.TrimRight(t.Issuer, "/") + "/.well-known/openid-configuration"
		d, err := getJSON(ctx, client, timeout, url, &md)
		date = d
		switch {
		case err != nil:
			checks = append(checks, Check{Name: prefix + "discovery", Status: Fail, Detail: err.Error()})
		case md.Issuer != t.Issuer:
			checks = append(checks, Check{Name: prefix + "discovery", Status: Fail,
				Detail: fmt.Sprintf("document names issuer %q, want exactly %q", md.Issuer, t.Issuer)})
		case md.JWKSURI == "":
			checks = append(checks, Check{Name: prefix + "discovery", Status: Fail, Detail: "document has no jwks_uri"})
		default:
			jwksURL = md.JWKSURI
			checks = append(checks, Check{Name: prefix + "discovery", Status: OK, Detail: "jwks_uri " + md.JWKSURI})
		}
	} else {
		checks = append(checks, Check{Name: prefix + "discovery", Status: Skip, Detail: "jwks_url set: discovery not used"})
	}
	if jwksURL != "" {
		c, d := checkKeys(ctx, client, timeout, jwksURL)
		c.Name = prefix + "keys"
		checks = append(checks, c)
		if date.IsZero() {
			date = d
		}
	}
	return append(checks, clockCheck(prefix+"clock", date, t.ClockSkew))
}

func checkKeys(ctx context.Context, client *http.Client, timeout time.Duration, url string) (Check, time.Time) {
	var set jwkset.JWKSMarshal
	date, err := getJSON(ctx, client, timeout, url, &set)
	if err != nil {
		return Check{Status: Fail, Detail: err.Error()}, date
	}
	var kids []string
	for _, k := range set.Keys {
		if _, err := jwkset.NewJWKFromMarshal(k, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{}); err != nil {
			continue
		}
		if k.USE == "" || k.USE == jwkset.UseSig {
			kids = append(kids, k.KID)
		}
	}
	if len(kids) == 0 {
		return Check{Status: Fail, Detail: fmt.Sprintf("%s holds no usable signing key (%d keys)", url, len(set.Keys))}, date
	}
	return Check{Status: OK, Detail: fmt.Sprintf("%d signing keys (kid %s)", len(kids), strings.Join(kids, ", "))}, date
}

func clockCheck(name string, date time.Time, skew time.Duration) Check {
	if date.IsZero() {
		return Check{Name: name, Status: Warn, Detail: "no Date header from the issuer: clock difference unknown"}
	}
	// Date has a resolution of one second.
	diff := time.Until(date)
	if diff < 0 {
		diff = -diff
	}
	diff = diff.Truncate(time.Second)
	if diff > skew {
		return Check{Name: name, Status: Fail, Detail: fmt.Sprintf("this host's clock differs from the issuer's by %s, more than clock_skew %s: its tokens would be refused", diff, skew)}
	}
	return Check{Name: name, Status: OK, Detail: fmt.Sprintf("within %s of the issuer's (clock_skew %s)", diff, skew)}
}

// getJSON fetches url into v and returns the response's Date.
func getJSON(ctx context.Context, client *http.Client, timeout time.Duration, url string, v any) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s unreachable: %s", url, probeError(err))
	}
	defer resp.Body.Close()
	date, _ := http.ParseTime(resp.Header.Get("Date"))
	if resp.StatusCode != http.StatusOK {
		return date, fmt.Errorf("%s answered HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return date, fmt.Errorf("%s: not JSON: %v", url, err)
	}
	return date, nil
}
