package jsonenc

import "bytes"

// SkipString returns the index just past the string starting at b[i] (a
// quote), for a walk of a document already checked: it looks for the
// closing quote, not at what is between. ok is false, with end len(b),
// when no quote closes it.
//
// A short string without escapes (keys, names, most values) is read eight
// bytes at a time (PlainRun: a call to bytes.IndexByte cost more than such
// a string); past 32 bytes, or at an escape, it jumps from quote to quote
// (bytes.IndexByte is vectorised) and skips quotes escaped by an odd run
// of backslashes. Texts full of escapes (code, with a \n every line) are
// no slower for them: a byte-wise loop that stepped over each escape was
// nearly all of a long request's parse.
func SkipString(b []byte, i int) (end int, ok bool) {
	j := i + 1
	if end := j + 32; end <= len(b) {
		// In a string the first byte PlainRun stops at is a quote, a
		// backslash or a control character (which a checked document
		// has none of).
		k := PlainRun(b[:end], j)
		if k < end && b[k] == '"' {
			return k + 1, true
		}
		if k == end {
			j = end // no quote or backslash before end
		}
	}
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b), false
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, true
		}
		j = q + 1
	}
}
