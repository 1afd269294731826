package cache

// The first, encoding/json-based canonicaliser, kept as a reference for
// FuzzCanonicalizeMatchesReference: the fast scanner must encode every
// input exactly as this straightforward version does.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// canonicalize appends the canonical encoding of the JSON object in body to
// dst: object members sorted by key (the last of duplicate keys wins),
// numbers in one spelling per value, strings with one escape form, no
// whitespace. At the top level only, ignored fields and members whose value
// is null (the API default) are left out.
func canonicalizeRef(dst, body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return dst, fmt.Errorf("reading body: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return dst, fmt.Errorf("body is not a JSON object: %w", ErrNotCacheable)
	}
	c := refCanonicalizer{dec: dec, buf: dst}
	if err := c.object(true); err != nil {
		return c.buf, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return c.buf, fmt.Errorf("trailing data after body: %w", ErrNotCacheable)
	}
	return c.buf, nil
}

type refCanonicalizer struct {
	dec *json.Decoder
	buf []byte
	// streamOptions: the next object is the top level's stream_options,
	// whose include_usage is left out.
	streamOptions bool
}

type refMember struct {
	key        string
	start, end int // value bytes in buf
}

// object encodes the members of an object whose '{' was already read.
// Values are written to buf as they come; the members are then reordered in
// place, so nested objects cost no extra buffers.
func (c *refCanonicalizer) object(top bool) error {
	so := c.streamOptions
	c.streamOptions = false
	base := len(c.buf)
	var members []refMember
	for c.dec.More() {
		tok, err := c.dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("object key is %T", tok)
		}
		start := len(c.buf)
		c.streamOptions = top && key == "stream_options"
		if err := c.value(); err != nil {
			return err
		}
		c.streamOptions = false
		if top && (ignoredField(key) || string(c.buf[start:]) == "null" ||
			key == "stream_options" && string(c.buf[start:]) == "{}") || so && key == "include_usage" {
			c.buf = c.buf[:start]
			continue
		}
		members = append(members, refMember{key: key, start: start, end: len(c.buf)})
	}
	if _, err := c.dec.Token(); err != nil { // '}'
		return err
	}
	slices.SortStableFunc(members, func(a, b refMember) int { return strings.Compare(a.key, b.key) })
	// Keep the last of duplicate keys, as encoding/json does.
	kept := members[:0]
	for i, m := range members {
		if i+1 < len(members) && members[i+1].key == m.key {
			continue
		}
		kept = append(kept, m)
	}
	values := slices.Clone(c.buf[base:])
	c.buf = append(c.buf[:base], '{')
	for i, m := range kept {
		if i > 0 {
			c.buf = append(c.buf, ',')
		}
		c.buf = refAppendString(c.buf, m.key)
		c.buf = append(c.buf, ':')
		c.buf = append(c.buf, values[m.start-base:m.end-base]...)
	}
	c.buf = append(c.buf, '}')
	return nil
}

func (c *refCanonicalizer) value() error {
	tok, err := c.dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return c.object(false)
		case '[':
			c.buf = append(c.buf, '[')
			for i := 0; c.dec.More(); i++ {
				if i > 0 {
					c.buf = append(c.buf, ',')
				}
				if err := c.value(); err != nil {
					return err
				}
			}
			if _, err := c.dec.Token(); err != nil { // ']'
				return err
			}
			c.buf = append(c.buf, ']')
			return nil
		}
		return fmt.Errorf("unexpected delimiter %q", v)
	case string:
		c.buf = refAppendString(c.buf, v)
	case json.Number:
		n, err := refNormalizeNumber(string(v))
		if err != nil {
			return err
		}
		c.buf = append(c.buf, n...)
	case bool:
		c.buf = strconv.AppendBool(c.buf, v)
	case nil:
		c.buf = append(c.buf, "null"...)
	default:
		return fmt.Errorf("unexpected token %T", tok)
	}
	return nil
}

// appendString writes s as a JSON string with exactly one escape form per
// character: only '"', '\\' and control characters are escaped, everything
// else is raw UTF-8. The decoder has already resolved \uXXXX escapes and
// replaced invalid UTF-8, so "\u00e9" and "é" encode alike.
func refAppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == '"' || b == '\\':
			dst = append(dst, '\\', b)
		case b < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
		default:
			dst = append(dst, b)
		}
	}
	return append(dst, '"')
}

// normalizeNumber returns one spelling for each value: an integer literal
// exactly (so large seeds stay distinct), a number with a fraction or an
// exponent as the float64 it reads as; 1, 1.0, 1e0 and 10e-1 all become
// "1"; 1.5e3 becomes "1500"; 0.25 becomes "25e-2"; -0 becomes "0".
func refNormalizeNumber(s string) (string, error) {
	if strings.ContainsAny(s, ".eE") { // a float to Python and JavaScript
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			s = strconv.FormatFloat(f, 'e', -1, 64)
		}
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	var exp int64
	if hasExp {
		e, err := strconv.ParseInt(strings.TrimPrefix(expPart, "+"), 10, 32)
		if err != nil {
			return "", fmt.Errorf("number %q: %w", s, err)
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= int64(len(frac))
	if digits == "" {
		return "0", nil
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(trimmed)
	switch {
	case exp > 0 && exp <= 6:
		b.WriteString(strings.Repeat("0", int(exp)))
	case exp != 0:
		b.WriteByte('e')
		b.WriteString(strconv.FormatInt(exp, 10))
	}
	return b.String(), nil
}

// FuzzCanonicalizeMatchesReference checks the scanner against the
// encoding/json reference: same output for every input both accept, and
// the reference accepts whatever the scanner accepts.
func FuzzCanonicalizeMatchesReference(f *testing.F) {
	f.Add([]byte(baseChat))
	f.Add([]byte(`{"a":[1.0,2e3,-0.5E-7,{"b":"\u00e9\ud83d\ude00\ud800x","a":null}],"stream":true,"a":{}}`))
	f.Add([]byte(`{"\u0073tream":1,"k":"\"\\\/\b\f\n\r\t\u001f","z":[[],{},true,false,null]}`))
	f.Add([]byte("{\"bad utf8\":\"\xff\xfe\",\"n\":12345678901234567890.000}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := canonicalize(nil, body)
		want, refErr := canonicalizeRef(nil, body)
		if err != nil {
			return // the scanner may be stricter (depth, exponent size)
		}
		if refErr != nil {
			t.Fatalf("scanner accepted what encoding/json rejects (%v):\n%q", refErr, body)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("mismatch for %q:\nscanner   %s\nreference %s", body, got, want)
		}
	})
}
