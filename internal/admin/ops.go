package admin

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
)

// ErrInvalid marks a request the caller must fix (400).
var ErrInvalid = errors.New("invalid request")

// KeyRequest describes an API key to create.
type KeyRequest struct {
	Name          string   `json:"name"`
	Role          string   `json:"role"`
	Models        []string `json:"models,omitempty"`
	RPM           int64    `json:"rpm,omitempty"`
	TPM           int64    `json:"tpm,omitempty"`
	MaxConcurrent int64    `json:"max_concurrent,omitempty"`
	ExpiresIn     string   `json:"expires_in,omitempty"` // "90d", "12h"; empty: never
}

// KeyView is a key as shown to operators: never the hash.
type KeyView struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Role          string     `json:"role"`
	Models        []string   `json:"models,omitempty"`
	RPM           int64      `json:"rpm,omitempty"`
	TPM           int64      `json:"tpm,omitempty"`
	MaxConcurrent int64      `json:"max_concurrent,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	// Key is set only in the response that creates the key.
	Key string `json:"key,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ViewKey converts a stored key.
func ViewKey(k store.Key) KeyView {
	return KeyView{ID: k.ID, Name: k.Name, Role: k.Role, Models: k.Models, RPM: k.RPM, TPM: k.TPM,
		MaxConcurrent: k.MaxConcurrent, CreatedAt: k.CreatedAt, ExpiresAt: optTime(k.ExpiresAt), RevokedAt: optTime(k.RevokedAt)}
}

// ParseDuration accepts Go durations plus a day suffix ("90d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%w: bad duration %q", ErrInvalid, s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%w: bad duration %q", ErrInvalid, s)
	}
	return d, nil
}

// Grants decides what a caller may hand out; *auth.Policy implements it.
type Grants interface {
	// CheckGrant returns nil when caller (nil: the operator at the
	// console) may give role and models to a new key or client; errors
	// wrap auth.ErrUnknownRole or auth.ErrForbidden.
	CheckGrant(caller *auth.Principal, role string, models []string) error
}

// plainText reports whether s can be stored and shown as it is: valid
// UTF-8 without control characters (PostgreSQL refuses NUL outright).
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

func checkCommon(name, role string, models []string, rpm, tpm, conc int64, grants Grants, caller *auth.Principal) error {
	switch {
	case !plainText(name) || !plainText(role):
		return fmt.Errorf("%w: name and role must be valid UTF-8 without control characters", ErrInvalid)
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%w: name is required", ErrInvalid)
	case role == "":
		return fmt.Errorf("%w: role is required", ErrInvalid)
	case rpm < 0 || tpm < 0 || conc < 0:
		return fmt.Errorf("%w: limits must not be negative", ErrInvalid)
	}
	for _, m := range models {
		if _, err := path.Match(m, ""); err != nil || m == "" || !plainText(m) {
			return fmt.Errorf("%w: bad model pattern %q", ErrInvalid, m)
		}
	}
	return grants.CheckGrant(caller, role, models)
}

// CreateKey creates an API key and returns it with the full key set. The
// role and models must be ones caller holds (see Grants).
func CreateKey(ctx context.Context, st store.KeyStore, req KeyRequest, now time.Time, grants Grants, caller *auth.Principal) (KeyView, error) {
	if err := checkCommon(req.Name, req.Role, req.Models, req.RPM, req.TPM, req.MaxConcurrent, grants, caller); err != nil {
		return KeyView{}, err
	}
	k := store.Key{Name: req.Name, Role: req.Role, Models: req.Models, RPM: req.RPM, TPM: req.TPM,
		MaxConcurrent: req.MaxConcurrent, CreatedAt: now.UTC()}
	if req.ExpiresIn != "" {
		d, err := ParseDuration(req.ExpiresIn)
		if err != nil {
			return KeyView{}, err
		}
		k.ExpiresAt = now.Add(d).UTC()
	}
	full, id, hash, err := auth.NewAPIKey()
	if err != nil {
		return KeyView{}, err
	}
	k.ID, k.Hash = id, hash
	if err := st.CreateKey(ctx, k); err != nil {
		return KeyView{}, fmt.Errorf("creating key: %w", err)
	}
	v := ViewKey(k)
	v.Key = full
	return v, nil
}

// RevokeKey revokes the key id at now, then calls forget (nil: none) so a
// cache of verified keys drops it at once. caller may revoke only a key it
// could have handed out (its role and models within the caller's, as for
// editing it): a key manager cannot lock out the administrators.
func RevokeKey(ctx context.Context, st store.KeyStore, id string, now time.Time, forget func(id string), grants Grants, caller *auth.Principal) error {
	k, err := st.Key(ctx, id)
	if err != nil {
		return err
	}
	if err := grants.CheckGrant(caller, k.Role, k.Models); err != nil {
		return err
	}
	if err := st.RevokeKey(ctx, id, now); err != nil {
		return err
	}
	if forget != nil {
		forget(id)
	}
	return nil
}

// ClientRequest describes an OAuth2 client to create.
type ClientRequest struct {
	Name          string   `json:"name"`
	Role          string   `json:"role"`
	Scopes        []string `json:"scopes,omitempty"`
	Models        []string `json:"models,omitempty"`
	RPM           int64    `json:"rpm,omitempty"`
	TPM           int64    `json:"tpm,omitempty"`
	MaxConcurrent int64    `json:"max_concurrent,omitempty"`
}

// ClientView is a client as shown to operators: never the secret hash.
type ClientView struct {
	ID            string     `json:"client_id"`
	Name          string     `json:"name"`
	Role          string     `json:"role"`
	Scopes        []string   `json:"scopes,omitempty"`
	Models        []string   `json:"models,omitempty"`
	RPM           int64      `json:"rpm,omitempty"`
	TPM           int64      `json:"tpm,omitempty"`
	MaxConcurrent int64      `json:"max_concurrent,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	// Secret is set only in the response that creates the client.
	Secret string `json:"client_secret,omitempty"`
}

// RevokeClient revokes the OAuth2 client id at now, if caller could have
// handed it out (see RevokeKey).
func RevokeClient(ctx context.Context, st store.ClientStore, id string, now time.Time, grants Grants, caller *auth.Principal) error {
	c, err := st.Client(ctx, id)
	if err != nil {
		return err
	}
	if err := grants.CheckGrant(caller, c.Role, c.Models); err != nil {
		return err
	}
	return st.RevokeClient(ctx, id, now)
}

// ViewClient converts a stored client.
func ViewClient(c store.Client) ClientView {
	return ClientView{ID: c.ID, Name: c.Name, Role: c.Role, Scopes: c.Scopes, Models: c.Models, RPM: c.RPM,
		TPM: c.TPM, MaxConcurrent: c.MaxConcurrent, CreatedAt: c.CreatedAt, RevokedAt: optTime(c.RevokedAt)}
}

var clientIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// CreateClient creates a client with a random id ("cl_...") and secret,
// hashing the secret with params (auth.DefaultArgon2 in production). The
// role and models must be ones caller holds (see Grants).
func CreateClient(ctx context.Context, st store.ClientStore, req ClientRequest, now time.Time, grants Grants, caller *auth.Principal, params auth.Argon2Params) (ClientView, error) {
	if err := checkCommon(req.Name, req.Role, req.Models, req.RPM, req.TPM, req.MaxConcurrent, grants, caller); err != nil {
		return ClientView{}, err
	}
	for _, s := range req.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return ClientView{}, fmt.Errorf("%w: bad scope %q", ErrInvalid, s)
		}
	}
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return ClientView{}, fmt.Errorf("generating client id: %w", err)
	}
	secret, err := auth.NewClientSecret()
	if err != nil {
		return ClientView{}, err
	}
	hash, err := auth.HashSecret(secret, params)
	if err != nil {
		return ClientView{}, err
	}
	c := store.Client{ID: "cl_" + strings.ToLower(clientIDEncoding.EncodeToString(b[:])), Name: req.Name, Role: req.Role,
		SecretHash: hash, Scopes: req.Scopes, Models: req.Models, RPM: req.RPM, TPM: req.TPM,
		MaxConcurrent: req.MaxConcurrent, CreatedAt: now.UTC()}
	if err := st.CreateClient(ctx, c); err != nil {
		return ClientView{}, fmt.Errorf("creating client: %w", err)
	}
	v := ViewClient(c)
	v.Secret = secret
	return v, nil
}
