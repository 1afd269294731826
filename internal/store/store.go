package store

import (
	"context"
	"time"
)

// PrincipalKind says which kind of credential a record belongs to.
type PrincipalKind string

// Principal kinds stored with usage records.
const (
	KindKey    PrincipalKind = "key"
	KindClient PrincipalKind = "client"
)

// Key is an API key. Only the SHA-256 hash of its secret part is stored.
type Key struct {
	ID            string // public id, the part between "dsg_" and the secret
	Name          string
	Role          string
	Hash          []byte // SHA-256 of the secret part
	Models        []string
	RPM           int64 // requests per minute; 0 means the role or global default
	TPM           int64 // tokens per minute; 0 means the role or global default
	MaxConcurrent int64 // concurrent requests; 0 means the default
	CreatedAt     time.Time
	ExpiresAt     time.Time // zero: never
	RevokedAt     time.Time // zero: active
}

// Client is an OAuth2 confidential client (client credentials grant).
type Client struct {
	ID            string
	Name          string
	Role          string
	SecretHash    string // PHC-encoded slow hash of the secret
	Scopes        []string
	Models        []string
	RPM           int64
	TPM           int64
	MaxConcurrent int64
	CreatedAt     time.Time
	RevokedAt     time.Time // zero: active
}

// Grant allows Actions on Resource; both may hold wildcards ("*", "admin.*").
type Grant struct {
	Resource string   `json:"resource"`
	Actions  []string `json:"actions"`
}

// Role is a named set of grants plus an optional model allow-list.
type Role struct {
	Name      string    `json:"name"`
	Grants    []Grant   `json:"permissions"`
	Models    []string  `json:"models,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// UsageDelta is an amount of usage to add to one bucket. Buckets are keyed
// by (Kind, PrincipalID, Model, UTC hour, Currency): the hour the requests
// started in.
//
// To AddUsage, Day is the instant of the usage (any time in the hour) and
// Hour is left zero; the key truncates it. Read back (Usage), Day is the
// bucket's UTC midnight and Hour its UTC hour when the filter asked for
// hours; Hour is zero in daily sums and in buckets stored before hourly
// buckets existed (migration 0008), which know their day only.
type UsageDelta struct {
	Kind             PrincipalKind
	PrincipalID      string
	Model            string
	Day              time.Time
	Hour             time.Time
	Requests         int64
	PromptTokens     int64
	CacheHitTokens   int64
	CompletionTokens int64
	// Cost and CostSaved are nano-units (1e-9) of Currency, summed
	// exactly; Currency is "" for usage no price applied to.
	Cost      int64
	CostSaved int64
	Currency  string
}

// UsageKey returns the bucket that d adds to: the hour of Hour when set,
// else of Day.
func (d UsageDelta) UsageKey() UsageKey {
	at := d.Hour
	if at.IsZero() {
		at = d.Day
	}
	at = at.UTC()
	return UsageKey{Kind: d.Kind, PrincipalID: d.PrincipalID, Model: d.Model, Day: at.Truncate(24 * time.Hour),
		Hour: at.Truncate(time.Hour), Currency: d.Currency}
}

// UsageKey identifies one usage bucket: Day is Hour's UTC midnight.
type UsageKey struct {
	Kind        PrincipalKind
	PrincipalID string
	Model       string
	Day         time.Time
	Hour        time.Time
	Currency    string
}

// UsageFilter selects usage buckets; zero fields match everything.
type UsageFilter struct {
	Kind        PrincipalKind
	PrincipalID string
	// From and To select the buckets whose hour starts in [From, To);
	// a bucket from before hourly buckets (hour unknown) is selected when
	// its UTC day starts in [From, To). A bound inside an hour (a zone
	// whose offset is not whole hours) selects the hours starting after
	// it: buckets are never split.
	From, To time.Time
	// ByHour returns one row per hour bucket (Hour set); otherwise rows
	// are the exact sums per UTC day (Hour zero).
	ByHour bool
}

// RevokedToken is a revoked JWT access token id, kept until the token
// would have expired anyway.
type RevokedToken struct {
	Seq       int64 // store-assigned, increasing; used to poll for new entries
	JTI       string
	ExpiresAt time.Time
}

// SigningKey is a token-signing key. PrivateKey is opaque to the store
// (the auth package stores it encrypted).
type SigningKey struct {
	KID         string
	Algorithm   string
	PrivateKey  []byte
	PublicKey   []byte // PKIX DER
	CreatedAt   time.Time
	ActivatesAt time.Time // used for signing from this time on
	RetiredAt   time.Time // zero: not retired; verification continues until tokens expire
}

// KeyStore persists API keys.
type KeyStore interface {
	CreateKey(ctx context.Context, k Key) error
	// Key returns the key with id, revoked or not, or ErrNotFound.
	Key(ctx context.Context, id string) (Key, error)
	ListKeys(ctx context.Context) ([]Key, error)
	// RevokeKey marks the key revoked at at; revoking twice keeps the first time.
	RevokeKey(ctx context.Context, id string, at time.Time) error
}

// ClientStore persists OAuth2 clients.
type ClientStore interface {
	CreateClient(ctx context.Context, c Client) error
	Client(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	RevokeClient(ctx context.Context, id string, at time.Time) error
}

// RoleStore persists roles defined at run time (config roles are not stored).
type RoleStore interface {
	// PutRole creates or replaces the role named r.Name.
	PutRole(ctx context.Context, r Role) error
	Role(ctx context.Context, name string) (Role, error)
	ListRoles(ctx context.Context) ([]Role, error)
	DeleteRole(ctx context.Context, name string) error
}

// UsageStore accumulates token usage.
type UsageStore interface {
	// AddUsage adds every delta to its bucket in one transaction; either all
	// deltas are applied or none.
	AddUsage(ctx context.Context, deltas []UsageDelta) error
	// AddJournalUsage is AddUsage that also sets the mark of journal to seq
	// in the same transaction: the deltas are the journal's records up to
	// seq, and a replay after a crash skips what the mark covers.
	AddJournalUsage(ctx context.Context, deltas []UsageDelta, journal string, seq uint64) error
	// JournalMark is the seq of the last record of journal added (0: none).
	JournalMark(ctx context.Context, journal string) (uint64, error)
	// Usage returns buckets matching f (daily sums unless f.ByHour),
	// ordered by kind, principal, model, day, hour, currency.
	Usage(ctx context.Context, f UsageFilter) ([]UsageDelta, error)
}

// TokenStore persists revoked access-token ids.
type TokenStore interface {
	// RevokeToken records jti as revoked; revoking twice is not an error.
	RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error
	TokenRevoked(ctx context.Context, jti string) (bool, error)
	// RevokedTokens returns unexpired revocations with Seq > afterSeq, by Seq.
	RevokedTokens(ctx context.Context, afterSeq int64, now time.Time) ([]RevokedToken, error)
	// PruneRevokedTokens deletes revocations whose tokens expired before now.
	PruneRevokedTokens(ctx context.Context, now time.Time) error
}

// SigningKeyStore persists token-signing keys.
type SigningKeyStore interface {
	AddSigningKey(ctx context.Context, k SigningKey) error
	// SigningKeys returns all keys, newest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	RetireSigningKey(ctx context.Context, kid string, at time.Time) error
	DeleteSigningKey(ctx context.Context, kid string) error
}

// Store is everything the control plane persists. Implementations are safe
// for concurrent use.
type Store interface {
	KeyStore
	ClientStore
	RoleStore
	UsageStore
	TokenStore
	SigningKeyStore
	BatchStore
	ResponseStore
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error
}
