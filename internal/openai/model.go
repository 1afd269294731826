package openai

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxModelLen bounds a model name in bytes. Model names dsgate serves are
// short; a longer one can only be a mistake or an attempt to bloat the
// audit trail, the logs and the usage store, which record the name.
const MaxModelLen = 256

// CheckModel refuses a model name that dsgate must not record: longer than
// MaxModelLen, not valid UTF-8 (PostgreSQL rejects it, and the audit hash
// would differ from the stored JSON) or with control characters (NUL is
// refused by PostgreSQL; the others forge log lines). The message never
// echoes the value. Valid names cost one pass and no allocation.
func CheckModel(s string) error {
	if len(s) > MaxModelLen {
		return InvalidRequest("model", "model must be at most "+strconv.Itoa(MaxModelLen)+" bytes")
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return InvalidRequest("model", "model must be valid UTF-8")
			}
		}
		if unicode.IsControl(r) {
			return InvalidRequest("model", "model must not contain control characters")
		}
	}
	return nil
}

// maxEcho bounds a client string an error message or param repeats.
const maxEcho = 64

// clipEcho returns at most maxEcho bytes of s (cut at a rune boundary),
// marked "..." when cut: errors name what they refuse without repeating
// megabytes of it.
func clipEcho(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	n := maxEcho
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
