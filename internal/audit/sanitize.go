package audit

import (
	"strings"
	"unicode/utf8"
)

// MaxFieldLen bounds each short string field of a record (ids, principal,
// model, upstream...) in bytes. Several come from the client; the record
// keeps a prefix so that one request cannot write megabytes to the trail.
const MaxFieldLen = 512

// sanitize makes every string field valid UTF-8 and bounds the short ones,
// before the record is hashed and encoded, so that what is hashed is
// exactly what the JSON line stores (the encoder would otherwise write
// U+FFFD for bytes the hash took raw, and verify would fail). Valid,
// short fields are left as they are: no allocation on the normal path.
func (e *Event) sanitize() {
	for _, f := range [...]*string{&e.ID, &e.Chain, &e.RequestID, &e.Principal, &e.Role, &e.ClientAddr,
		&e.Route, &e.Model, &e.Upstream, &e.CacheResult, &e.InputSHA256, &e.OutputSHA256, &e.ErrorType, &e.Currency} {
		*f = clip(validUTF8(*f), MaxFieldLen)
	}
	e.Input, e.Output = validUTF8(e.Input), validUTF8(e.Output)
}

// validUTF8 returns s, or s with each invalid byte sequence replaced by
// U+FFFD, the way encoding/json writes it.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// clip returns at most n bytes of s, cut at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
