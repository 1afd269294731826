package audit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"
)

// ZeroHash is the PrevHash of the first record of a chain unless
// Options.Anchor says otherwise.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// canonicalVersion prefixes the canonical encoding so that a later format
// can be told apart.
const canonicalVersion = "dsgate-audit-v1\n"

// Event is one audit record: who called which route and model, when, with
// what result, and SHA-256 digests of the input and output. The Writer fills
// Seq, Chain, PrevHash and Hash; callers fill the rest (ID too, or the Writer
// makes one).
type Event struct {
	ID               string    `json:"id"`
	Seq              uint64    `json:"seq"`
	Chain            string    `json:"chain,omitempty"`
	RequestID        string    `json:"request_id"`
	Principal        string    `json:"principal"`
	Role             string    `json:"role"`
	ClientAddr       string    `json:"client_addr"`
	Route            string    `json:"route"`
	Model            string    `json:"model"`
	Upstream         string    `json:"upstream"`
	Status           int       `json:"status"`
	CacheResult      string    `json:"cache_result"`
	PromptTokens     int       `json:"prompt_tokens"`
	CompletionTokens int       `json:"completion_tokens"`
	CacheHitTokens   int       `json:"cache_hit_tokens"`
	RequestAt        time.Time `json:"request_at"`
	ResponseAt       time.Time `json:"response_at"`
	InputSHA256      string    `json:"input_sha256"`
	OutputSHA256     string    `json:"output_sha256"`
	Input            string    `json:"input,omitempty"`
	Output           string    `json:"output,omitempty"`
	ErrorType        string    `json:"error_type,omitempty"`
	// Cost and CostSaved are the request's cost and what caches saved, in
	// nano-units (1e-9) of Currency; Currency is empty when no price
	// applied (then both are zero and none of the three is written).
	Cost      int64  `json:"cost_nano,omitempty"`
	CostSaved int64  `json:"cost_saved_nano,omitempty"`
	Currency  string `json:"currency,omitempty"`
	// Metered is the kind of principal ("key", "client") the request's
	// usage was recorded under in the usage store; empty when none was
	// (refused before admission, or not an inference request). `dsgate
	// usage reconcile` sums the metered records.
	Metered  string `json:"metered,omitempty"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`

	// raw is the sealed record as spooled (one JSON line, no newline). The
	// writer sets it so that sinks write those bytes instead of encoding
	// the event again.
	raw []byte
}

// ComputeHash returns the hex SHA-256 of the event's canonical encoding,
// which covers every field except Hash (PrevHash included).
//
// The canonical encoding is the bytes "dsgate-audit-v1\n" followed, for
// each field in the order of the JSON names below, by
// name, '=', the decimal byte length of the value, ':', the value, '\n'.
// Strings are taken as is, integers in decimal, times as RFC 3339 with
// nanoseconds in UTC (time.RFC3339Nano). Any language can recompute it from
// the JSON line alone. The cost fields (cost_nano, cost_saved_nano,
// currency, after error_type) are part of the encoding only when currency
// is set, so records written before they existed verify unchanged; so is
// metered (after them), only when set.
func (e *Event) ComputeHash() string {
	var stack [1536]byte
	sum := sha256.Sum256(e.appendCanonical(stack[:0]))
	return hex.EncodeToString(sum[:])
}

// appendCanonical appends the canonical encoding to b. It builds the bytes
// in one buffer and hashes them once: far cheaper than many small writes.
func (e *Event) appendCanonical(b []byte) []byte {
	raw := func(name string, value []byte) {
		b = append(b, name...)
		b = append(b, '=')
		b = strconv.AppendInt(b, int64(len(value)), 10)
		b = append(b, ':')
		b = append(b, value...)
		b = append(b, '\n')
	}
	field := func(name, value string) {
		b = append(b, name...)
		b = append(b, '=')
		b = strconv.AppendInt(b, int64(len(value)), 10)
		b = append(b, ':')
		b = append(b, value...)
		b = append(b, '\n')
	}
	var d [40]byte
	num := func(name string, v int64) { raw(name, strconv.AppendInt(d[:0], v, 10)) }
	when := func(name string, t time.Time) { raw(name, t.UTC().AppendFormat(d[:0], time.RFC3339Nano)) }
	b = append(b, canonicalVersion...)
	field("id", e.ID)
	raw("seq", strconv.AppendUint(d[:0], e.Seq, 10))
	field("chain", e.Chain)
	field("request_id", e.RequestID)
	field("principal", e.Principal)
	field("role", e.Role)
	field("client_addr", e.ClientAddr)
	field("route", e.Route)
	field("model", e.Model)
	field("upstream", e.Upstream)
	num("status", int64(e.Status))
	field("cache_result", e.CacheResult)
	num("prompt_tokens", int64(e.PromptTokens))
	num("completion_tokens", int64(e.CompletionTokens))
	num("cache_hit_tokens", int64(e.CacheHitTokens))
	when("request_at", e.RequestAt)
	when("response_at", e.ResponseAt)
	field("input_sha256", e.InputSHA256)
	field("output_sha256", e.OutputSHA256)
	field("input", e.Input)
	field("output", e.Output)
	field("error_type", e.ErrorType)
	if e.Currency != "" {
		num("cost_nano", e.Cost)
		num("cost_saved_nano", e.CostSaved)
		field("currency", e.Currency)
	}
	if e.Metered != "" {
		field("metered", e.Metered)
	}
	field("prev_hash", e.PrevHash)
	return b
}

// SetBodies fills the input and output hashes from the bodies' bytes (or
// takes outputHash, for a stream hashed as it passed), and keeps the text
// itself only when keep is set. Hashing here, from bytes, spares the
// writer a copy of every body.
func (e *Event) SetBodies(input, output []byte, outputHash string, keep bool) {
	if len(input) > 0 {
		e.InputSHA256 = HashBytes(input)
	}
	e.OutputSHA256 = outputHash
	if len(output) > 0 {
		e.OutputSHA256 = HashBytes(output)
	}
	if keep {
		e.Input, e.Output = string(input), string(output)
	}
}

// HashBytes returns the hex SHA-256 of b, the form of InputSHA256 and
// OutputSHA256.
func HashBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// HashText returns the hex SHA-256 of s, the form of InputSHA256 and
// OutputSHA256.
func HashText(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// NewID returns a 32-hex-digit identifier: 48 bits of Unix milliseconds then
// 80 random bits, so ids sort by time like a ULID and never collide in
// practice. It is the Elasticsearch _id, which makes re-sends idempotent.
func NewID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b[:])
}

// chainState is the head of a hash chain: the last sequence number and hash.
type chainState struct {
	seq  uint64
	hash string
}

// seal returns ev as the next record of the chain, its strings made safe
// to store (see sanitize) before they are hashed.
func (c chainState) seal(ev Event, chain string) Event {
	ev.sanitize()
	ev.Seq = c.seq + 1
	ev.Chain = chain
	ev.PrevHash = c.hash
	ev.Hash = ev.ComputeHash()
	return ev
}
