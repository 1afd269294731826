package jsonenc

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// Valid reports whether b is one valid JSON value, as encoding/json's
// Valid does (the same grammar, the same nesting limit, and like it no
// UTF-8 check inside strings), in one pass without a state machine per
// byte: string bodies, the bulk of a chat chunk or request, are skipped
// with a table lookup per byte. It is what openai.Parse checks every
// request with, and the translators every request and upstream chunk,
// before walking them.
func Valid(b []byte) bool {
	v := validator{b: b}
	i, ok := v.value(v.space(0), 0)
	return ok && v.space(i) == len(b)
}

// Value checks the one value at b[i] as Valid checks a document, depth
// being how deeply it is nested (0 for a document), and returns the index
// just past it. It lets a walker validate what it skips, so that reading
// a document costs one pass instead of Valid's and the walk's.
func Value(b []byte, i, depth int) (end int, ok bool) {
	v := validator{b: b}
	return v.value(i, depth)
}

// String checks the string at b[i] and returns the index just past it.
func String(b []byte, i int) (end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	v := validator{b: b}
	return v.str(i)
}

// Members walks the object at b[i], nested depth deep (1 for a document;
// its values are at the same depth), checking its syntax as it goes: fn
// gets each member's key (the raw bytes between its quotes) and the index
// of its value, checks the value (with Value, or by walking it) and
// returns the index just past it, or ok false to stop. Members returns
// the index just past the object; ok is false when there is no object at
// b[i], it is malformed, or fn stopped. Reading a document this way costs
// one pass, not Valid's and then a walk's.
func Members(b []byte, i, depth int, fn func(key []byte, v int) (end int, ok bool)) (end int, ok bool) {
	v := validator{b: b}
	if i >= len(b) || b[i] != '{' || depth > maxDepth {
		return i, false
	}
	if i = v.space(i + 1); i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	return MoreMembers(b, i, fn)
}

// MoreMembers is Members from b[i], just past a ',' between two members
// of an object whose bytes before i were checked: a reader that knows
// those bytes from a document it read before (a stream's chunks repeat
// their id, created and model) walks the rest only.
func MoreMembers(b []byte, i int, fn func(key []byte, v int) (end int, ok bool)) (end int, ok bool) {
	v := validator{b: b}
	i = v.space(i)
	for {
		kEnd, ok := String(b, i)
		if !ok {
			return i, false
		}
		key := b[i+1 : kEnd-1]
		if i = v.space(kEnd); i >= len(b) || b[i] != ':' {
			return i, false
		}
		if i, ok = fn(key, v.space(i+1)); !ok {
			return i, false
		}
		var done bool
		if i, done, ok = v.next(i, '}'); done || !ok {
			return i, ok
		}
	}
}

// Elements is Members for the array at b[i]: fn gets each element's
// position and index.
func Elements(b []byte, i, depth int, fn func(n, v int) (end int, ok bool)) (end int, ok bool) {
	v := validator{b: b}
	if i >= len(b) || b[i] != '[' || depth > maxDepth {
		return i, false
	}
	if i = v.space(i + 1); i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for n := 0; ; n++ {
		if i >= len(b) {
			return i, false
		}
		var ok, done bool
		if i, ok = fn(n, i); !ok {
			return i, false
		}
		if i, done, ok = v.next(i, ']'); done || !ok {
			return i, ok
		}
	}
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// NestsWithin reports whether the valid JSON value v, written inside depth
// levels of objects and arrays, stays within encoding/json's nesting
// limit. A translator that copies a client's value one level deeper than
// the client wrote it (a tool's schema: tools[i].input_schema becomes
// tools[i].function.parameters) checks it: the client's body may reach the
// limit exactly. A value too short to nest that deep is not walked.
func NestsWithin(v []byte, depth int) bool {
	if len(v) < 2*(maxDepth-depth+1) { // k levels take 2k bytes at least
		return true
	}
	_, ok := (&validator{b: v}).value(0, depth)
	return ok
}

type validator struct{ b []byte }

// plain marks the bytes a JSON string holds as they are: not a quote, not
// a backslash, not a control character.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (v *validator) space(i int) int {
	for i < len(v.b) && isSpace(v.b[i]) {
		i++
	}
	return i
}

// value checks the value at b[i] and returns the index just past it.
func (v *validator) value(i, depth int) (int, bool) {
	if i >= len(v.b) {
		return i, false
	}
	switch c := v.b[i]; {
	case c == '"':
		return v.str(i)
	case c == '{':
		return v.object(i, depth+1)
	case c == '[':
		return v.array(i, depth+1)
	case c == '-' || c >= '0' && c <= '9':
		return v.number(i)
	case c == 't':
		return v.literal(i, "true")
	case c == 'f':
		return v.literal(i, "false")
	case c == 'n':
		return v.literal(i, "null")
	}
	return i, false
}

func (v *validator) literal(i int, lit string) (int, bool) {
	if len(v.b)-i < len(lit) || string(v.b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

func (v *validator) object(i, depth int) (int, bool) {
	if depth > maxDepth {
		return i, false
	}
	i = v.space(i + 1)
	if i < len(v.b) && v.b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(v.b) || v.b[i] != '"' {
			return i, false
		}
		var ok, done bool
		if i, ok = v.str(i); !ok {
			return i, false
		}
		i = v.space(i)
		if i >= len(v.b) || v.b[i] != ':' {
			return i, false
		}
		if i, ok = v.value(v.space(i+1), depth); !ok {
			return i, false
		}
		if i, done, ok = v.next(i, '}'); done || !ok {
			return i, ok
		}
	}
}

func (v *validator) array(i, depth int) (int, bool) {
	if depth > maxDepth {
		return i, false
	}
	i = v.space(i + 1)
	if i < len(v.b) && v.b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok, done bool
		if i, ok = v.value(i, depth); !ok {
			return i, false
		}
		if i, done, ok = v.next(i, ']'); done || !ok {
			return i, ok
		}
	}
}

// next reads what follows a member or an element at b[i]: a comma (more
// follow: j is the index after it) or close (done: j is past it).
func (v *validator) next(i int, close byte) (j int, done, ok bool) {
	if i = v.space(i); i >= len(v.b) {
		return i, false, false
	}
	switch v.b[i] {
	case ',':
		return v.space(i + 1), false, true
	case close:
		return i + 1, true, true
	}
	return i, false, false
}

// str checks the string starting at b[i] (a quote).
func (v *validator) str(i int) (int, bool) {
	b := v.b
	i++
	for {
		i = plainRun(b, i)
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !hex4(b[i+2:i+6]) {
					return i, false
				}
				i += 6
			default:
				return i, false
			}
		default:
			return i, false // a control character
		}
	}
}

// PlainRun returns the index of the first byte at or after b[i] that a
// JSON string cannot hold as it is (a quote, a backslash or a control
// character), or len(b). It tests eight bytes at a time, inline: on the
// short strings of most JSON (keys, names, ids) it is cheaper than a call
// to bytes.IndexByte.
func PlainRun(b []byte, i int) int { return plainRun(b, i) }

// plainRun is PlainRun. It tests eight bytes at a time while it can: a
// byte-wise loop over the strings was a third of a chat chunk's
// validation.
func plainRun(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		// The high bit of a byte is set in special when the byte is below
		// 0x20, a quote or a backslash (the classic has-zero-byte and
		// has-less-than tests). A bit above the lowest may be spurious (a
		// borrow), the lowest never is.
		if special := ((x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs) & highs; special != 0 {
			return i + bits.TrailingZeros64(special)/8
		}
	}
	if n := len(b) - i; n > 0 && len(b) >= 8 {
		// Fewer than eight bytes left: the document's last eight, shifted
		// so b[i] is the lowest byte. The bytes shifted in are zero, so
		// special in the test, and come after the n that are left.
		x := binary.LittleEndian.Uint64(b[len(b)-8:]) >> (8 * (8 - n))
		q, bs := x^(ones*'"'), x^(ones*'\\')
		special := ((x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs) & highs
		return i + min(bits.TrailingZeros64(special)/8, n)
	}
	for i < len(b) && plain[b[i]] {
		i++
	}
	return i
}

// ASCIIRun returns the index of the first byte at or after s[i] that a
// JSON string cannot hold as it is or that is not ASCII (a quote, a
// backslash, a control character, a byte of a multi-byte character), or
// len(s): the run an encoder or a check of an encoding can pass over
// without looking at each byte. It tests eight bytes at a time, as
// plainRun does (a byte-wise loop was most of the escaping of a text).
func ASCIIRun[S string | []byte](s S, i int) int { return asciiRun(s, i, false) }

// asciiRun is ASCIIRun; html also stops at the bytes json.Marshal
// escapes for HTML: <, > and &.
func asciiRun[S string | []byte](s S, i int, html bool) int {
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8] // one bounds check, not eight
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		if special := asciiSpecial(x, html); special != 0 {
			return i + bits.TrailingZeros64(special)/8
		}
	}
	if n := len(s) - i; n > 0 && len(s) >= 8 {
		// As in plainRun: the last eight bytes, shifted.
		w := s[len(s)-8:]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		return i + min(bits.TrailingZeros64(asciiSpecial(x>>(8*(8-n)), html))/8, n)
	}
	for i < len(s) && s[i] < utf8.RuneSelf && plain[s[i]] && !(html && (s[i] == '<' || s[i] == '>' || s[i] == '&')) {
		i++
	}
	return i
}

// asciiSpecial is plainRun's test of the eight bytes of x, and the high
// bit of each byte itself (and with html, the has-zero test for <, >
// and &): the lowest set bit is the first byte to stop at.
func asciiSpecial(x uint64, html bool) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(ones*'"'), x^(ones*'\\')
	special := (x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs | x
	if html {
		lt, gt, amp := x^(ones*'<'), x^(ones*'>'), x^(ones*'&')
		special |= (lt-ones)&^lt | (gt-ones)&^gt | (amp-ones)&^amp
	}
	return special & highs
}

func hex4(h []byte) bool {
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (v *validator) number(i int) (int, bool) {
	b := v.b
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }
