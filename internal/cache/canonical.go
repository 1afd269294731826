package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting so a hostile body cannot exhaust the stack.
const maxDepth = 1000

var errSyntax = errors.New("invalid JSON")

// ignoredField reports whether a top-level request field leaves the model's
// output unchanged and so must not take part in the key. A streaming and a
// non-streaming request for the same answer therefore share a key. Fields not
// listed here are kept: an unknown field can only cost a hit, never serve a
// wrong answer.
//
// Of stream_options only include_usage is left out (see objectKind): the
// entry keeps the usage chunk and a replay drops it for a client that did
// not ask. Other options change the chunks recorded (vLLM's
// continuous_usage_stats puts usage on every one), so they stay in the key.
func ignoredField(name string) bool {
	switch name {
	case "stream", "user", "user_id", "metadata", "store",
		"service_tier", "safety_identifier", "prompt_cache_key",
		"prompt_cache_retention", "prompt_cache_options":
		return true
	}
	return false
}

// canonicalize appends the canonical encoding of the JSON object in body to
// dst: object members sorted by key (the last of duplicate keys wins, as in
// encoding/json), numbers in one spelling per value, strings with one
// escape form, no whitespace. At the top level only, ignored fields and
// members whose value is null (the API default) are left out.
//
// It is a single pass over the bytes: members are written to the output as
// they come and reordered in place when their object closes. The
// encoding/json version it replaced (kept in canonical_ref_test.go, fuzzed
// against this one) cost 100 µs and 650 allocations for a 2 KB body.
func canonicalize(dst, body []byte) ([]byte, error) {
	w := works.Get().(*work)
	c := canonicalizer{in: body, buf: dst, members: w.members[:0], scratch: w.scratch[:0], num: w.num[:0]}
	defer func() {
		if cap(c.scratch)+cap(c.num) <= maxPooledWork && cap(c.members) <= maxPooledWork/64 {
			w.members, w.scratch, w.num = c.members[:0], c.scratch[:0], c.num[:0]
			works.Put(w)
		}
	}()
	c.skipSpace()
	if c.pos >= len(c.in) || c.in[c.pos] != '{' {
		return dst, fmt.Errorf("body is not a JSON object: %w", ErrNotCacheable)
	}
	if err := c.object(topLevel); err != nil {
		return dst, fmt.Errorf("offset %d: %w", c.pos, err)
	}
	c.skipSpace()
	if c.pos != len(c.in) {
		return dst, fmt.Errorf("trailing data after body: %w", ErrNotCacheable)
	}
	return c.buf, nil
}

// objectKind is where an object sits in the body, which decides the
// members left out of the key.
type objectKind uint8

const (
	nested        objectKind = iota // every member kept
	topLevel                        // ignored fields and nulls left out
	streamOptions                   // the top level's stream_options: include_usage left out
)

type canonicalizer struct {
	in      []byte
	pos     int
	buf     []byte
	scratch []byte   // reorder buffer, reused by every object
	members []member // stack shared by nested objects
	num     []byte   // number digits, reused
	depth   int
}

// work is a canonicalizer's reused storage: the members stack, the
// reorder buffer and the digits, which grew anew for every key before
// (three allocations a request).
type work struct {
	members      []member
	scratch, num []byte
}

var works = sync.Pool{New: func() any { return new(work) }}

// maxPooledWork bounds the storage kept for the next key (bytes, and a
// member for every 64 of them): what a huge body grew is left to the
// garbage collector.
const maxPooledWork = 64 << 10

// member locates one `"key":value` in buf.
type member struct {
	start, keyEnd, end int
}

func (c *canonicalizer) skipSpace() {
	for c.pos < len(c.in) {
		switch c.in[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

// value reads one value; an object is read as obj.
func (c *canonicalizer) value(obj objectKind) error {
	c.skipSpace()
	if c.pos >= len(c.in) {
		return errSyntax
	}
	switch b := c.in[c.pos]; {
	case b == '{':
		return c.object(obj)
	case b == '[':
		return c.array()
	case b == '"':
		return c.string()
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	case b == '-' || (b >= '0' && b <= '9'):
		return c.number()
	}
	return errSyntax
}

func (c *canonicalizer) literal(lit string) error {
	if !bytes.HasPrefix(c.in[c.pos:], []byte(lit)) {
		return errSyntax
	}
	c.pos += len(lit)
	c.buf = append(c.buf, lit...)
	return nil
}

func (c *canonicalizer) enter() error {
	if c.depth++; c.depth > maxDepth {
		return errors.New("JSON nested too deeply")
	}
	c.pos++ // '{' or '['
	c.skipSpace()
	return nil
}

func (c *canonicalizer) array() error {
	if err := c.enter(); err != nil {
		return err
	}
	defer func() { c.depth-- }()
	c.buf = append(c.buf, '[')
	if c.pos < len(c.in) && c.in[c.pos] == ']' {
		c.pos++
		c.buf = append(c.buf, ']')
		return nil
	}
	for {
		if err := c.value(nested); err != nil {
			return err
		}
		c.skipSpace()
		if c.pos >= len(c.in) {
			return errSyntax
		}
		switch c.in[c.pos] {
		case ',':
			c.pos++
			c.buf = append(c.buf, ',')
		case ']':
			c.pos++
			c.buf = append(c.buf, ']')
			return nil
		default:
			return errSyntax
		}
	}
}

func (c *canonicalizer) object(kind objectKind) error {
	if err := c.enter(); err != nil {
		return err
	}
	defer func() { c.depth-- }()
	base, mbase := len(c.buf), len(c.members)
	if c.pos < len(c.in) && c.in[c.pos] == '}' {
		c.pos++
		c.buf = append(c.buf, '{', '}')
		return nil
	}
	for {
		c.skipSpace()
		if c.pos >= len(c.in) || c.in[c.pos] != '"' {
			return errSyntax
		}
		start := len(c.buf)
		if err := c.string(); err != nil {
			return err
		}
		keyEnd := len(c.buf)
		c.skipSpace()
		if c.pos >= len(c.in) || c.in[c.pos] != ':' {
			return errSyntax
		}
		c.pos++
		c.buf = append(c.buf, ':')
		valStart := len(c.buf)
		obj := nested
		if kind == topLevel && string(c.buf[start+1:keyEnd-1]) == "stream_options" {
			obj = streamOptions
		}
		if err := c.value(obj); err != nil {
			return err
		}
		if leftOut(kind, c.buf[start+1:keyEnd-1], c.buf[valStart:]) {
			c.buf = c.buf[:start]
		} else {
			c.members = append(c.members, member{start, keyEnd, len(c.buf)})
		}
		c.skipSpace()
		if c.pos >= len(c.in) {
			return errSyntax
		}
		if c.in[c.pos] == ',' {
			c.pos++
			continue
		}
		if c.in[c.pos] != '}' {
			return errSyntax
		}
		c.pos++
		break
	}
	c.reorder(base, c.members[mbase:])
	c.members = c.members[:mbase]
	return nil
}

// leftOut reports whether the member name: val of an object of kind stays
// out of the key. The canonical name is escaped only where JSON requires,
// so the ignored names compare as they are written.
func leftOut(kind objectKind, name, val []byte) bool {
	switch kind {
	case topLevel:
		// stream_options with nothing but include_usage is as absent.
		return ignoredField(string(name)) || string(val) == "null" ||
			string(name) == "stream_options" && string(val) == "{}"
	case streamOptions:
		return string(name) == "include_usage"
	}
	return false
}

// reorder rewrites buf[base:] as `{` + the members sorted by decoded key,
// the last of equal keys kept, + `}`. Equal canonical keys mean equal
// decoded keys.
func (c *canonicalizer) reorder(base int, ms []member) {
	buf := c.buf
	slices.SortStableFunc(ms, func(a, b member) int {
		return compareKeys(buf[a.start+1:a.keyEnd-1], buf[b.start+1:b.keyEnd-1])
	})
	c.scratch = append(c.scratch[:0], c.buf[base:]...)
	key := func(m member) []byte { return c.scratch[m.start-base : m.keyEnd-base] }
	c.buf = append(c.buf[:base], '{') // overwrites buf: read only scratch below
	first := true
	for i, m := range ms {
		if i+1 < len(ms) && bytes.Equal(key(m), key(ms[i+1])) {
			continue
		}
		if !first {
			c.buf = append(c.buf, ',')
		}
		first = false
		c.buf = append(c.buf, c.scratch[m.start-base:m.end-base]...)
	}
	c.buf = append(c.buf, '}')
}

// string reads a JSON string and writes it with exactly one escape form per
// character: only '"', '\\' and control characters are escaped (as \" \\
// and \u00xx), everything else is raw UTF-8. \uXXXX escapes are resolved,
// lone surrogates and invalid UTF-8 become U+FFFD, as encoding/json does.
func (c *canonicalizer) string() error {
	c.pos++ // opening quote
	c.buf = append(c.buf, '"')
	for c.pos < len(c.in) {
		b := c.in[c.pos]
		switch {
		case b == '"':
			c.pos++
			c.buf = append(c.buf, '"')
			return nil
		case b == '\\':
			r, err := c.escape()
			if err != nil {
				return err
			}
			c.buf = appendRune(c.buf, r)
		case b < 0x20:
			return errSyntax
		case b < utf8.RuneSelf:
			c.pos++
			c.buf = append(c.buf, b)
		default:
			r, size := utf8.DecodeRune(c.in[c.pos:])
			c.pos += size
			c.buf = utf8.AppendRune(c.buf, r) // RuneError for invalid bytes
		}
	}
	return errSyntax
}

// escape decodes the escape sequence at c.pos (a backslash).
func (c *canonicalizer) escape() (rune, error) {
	if c.pos+1 >= len(c.in) {
		return 0, errSyntax
	}
	e := c.in[c.pos+1]
	c.pos += 2
	switch e {
	case '"', '\\', '/':
		return rune(e), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := hex4(c.in[c.pos:])
		if !ok {
			return 0, errSyntax
		}
		c.pos += 4
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		// A high surrogate followed by an escaped low one is one rune;
		// anything else is a lone surrogate.
		if bytes.HasPrefix(c.in[c.pos:], []byte(`\u`)) {
			if r2, ok := hex4(c.in[c.pos+2:]); ok {
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					c.pos += 6
					return dec, nil
				}
			}
		}
		return utf8.RuneError, nil
	}
	return 0, errSyntax
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, h := range b[:4] {
		switch {
		case h >= '0' && h <= '9':
			h -= '0'
		case h >= 'a' && h <= 'f':
			h = h - 'a' + 10
		case h >= 'A' && h <= 'F':
			h = h - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(h)
	}
	return r, true
}

// appendRune writes one decoded rune in canonical string form.
func appendRune(dst []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	switch {
	case r == '"' || r == '\\':
		return append(dst, '\\', byte(r))
	case r < 0x20:
		return append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
	}
	return utf8.AppendRune(dst, r)
}

// number scans a JSON number at c.pos and writes its canonical spelling.
func (c *canonicalizer) number() error {
	start := c.pos
	in := c.in
	i := c.pos
	if in[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case digits() == 0:
		return errSyntax
	}
	if i < len(in) && in[i] == '.' {
		i++
		if digits() == 0 {
			return errSyntax
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if digits() == 0 {
			return errSyntax
		}
	}
	c.pos = i
	var err error
	c.buf, c.num, err = appendNumber(c.buf, c.num, in[start:i])
	return err
}

// appendNumber writes the canonical spelling of a syntactically valid JSON
// number: 1, 1.0, 1e0 and 10e-1 all become "1"; 1.5e3 becomes "1500";
// 0.25 becomes "25e-2"; -0 becomes "0". scratch is reused for the digits.
//
// An integer literal is kept exactly, so large seeds stay distinct. A
// number with a fraction or an exponent is taken for the float64 it reads
// as: Python (vLLM, SGLang) and JavaScript read it so, and an integer
// literal exactly, so 9007199254740993.0 is the seed 9007199254740992 to
// them, not 9007199254740993. A number beyond float64's range keeps its
// exact value: another key costs a hit only.
func appendNumber(dst, scratch, num []byte) ([]byte, []byte, error) {
	var fbuf [32]byte // the shortest 'e' spelling of a float64 takes 24
	if bytes.ContainsAny(num, ".eE") {
		if f, err := strconv.ParseFloat(string(num), 64); err == nil {
			num = strconv.AppendFloat(fbuf[:0], f, 'e', -1, 64)
		}
	}
	neg := len(num) > 0 && num[0] == '-'
	if neg {
		num = num[1:]
	}
	mant, expPart := num, []byte(nil)
	if i := bytes.IndexAny(num, "eE"); i >= 0 {
		mant, expPart = num[:i], num[i+1:]
	}
	var exp int64
	if len(expPart) > 0 {
		if expPart[0] == '+' {
			expPart = expPart[1:]
		}
		e, err := strconv.ParseInt(string(expPart), 10, 32)
		if err != nil {
			return dst, scratch, fmt.Errorf("number exponent: %w", err)
		}
		exp = e
	}
	intPart, frac := mant, []byte(nil)
	if i := bytes.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	d := append(append(scratch[:0], intPart...), frac...)
	exp -= int64(len(frac))
	for len(d) > 0 && d[0] == '0' {
		d = d[1:]
	}
	if len(d) == 0 {
		return append(dst, '0'), scratch, nil
	}
	for d[len(d)-1] == '0' {
		d = d[:len(d)-1]
		exp++
	}
	if neg {
		dst = append(dst, '-')
	}
	dst = append(dst, d...)
	switch {
	case exp > 0 && exp <= 6:
		dst = append(dst, "000000"[:exp]...)
	case exp != 0:
		dst = append(dst, 'e')
		dst = strconv.AppendInt(dst, exp, 10)
	}
	return dst, d[:0], nil
}

// normalizeNumber returns the canonical spelling of a JSON number.
func normalizeNumber(s string) (string, error) {
	c := canonicalizer{in: []byte(s)}
	if len(s) == 0 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return "", fmt.Errorf("number %q: %w", s, errSyntax)
	}
	if err := c.number(); err != nil || c.pos != len(s) {
		return "", fmt.Errorf("number %q: %w", s, errSyntax)
	}
	return string(c.buf), nil
}

// compareKeys orders two canonical key bodies (without their quotes) as
// their decoded strings compare. Raw UTF-8 bytes compare in code point
// order, so most keys compare as they are; the quotes must stay out (a key
// that is a prefix of another would otherwise meet '"'), and a key with an
// escape (\", \\, \u00xx for control characters) is decoded first, as
// escaping does not keep the order.
func compareKeys(a, b []byte) int {
	if bytes.IndexByte(a, '\\') < 0 && bytes.IndexByte(b, '\\') < 0 {
		return bytes.Compare(a, b)
	}
	return strings.Compare(unescapeKey(a), unescapeKey(b))
}

// unescapeKey decodes a canonical key body; it was written by string, so
// it is valid.
func unescapeKey(k []byte) string {
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, k...), '"'), &s); err != nil {
		return string(k)
	}
	return s
}
