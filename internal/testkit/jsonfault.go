package testkit

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// JSONFaults are tokens that, put anywhere in a JSON document, mostly make
// it malformed (and sometimes leave it valid): what the parsers' tests
// insert into valid requests to check that the walk which validates as it
// reads refuses every malformed one (Mutate).
var JSONFaults = []string{
	"", " ", ",", ":", "{", "}", "[", "]", `"`, `\`, `\\`, `\"`, `\x`, `\u12`, `\u12g4`, `\ud800`, "\x00", "\x01", "\x1f", "\x7f",
	"\xff", "\xef\xbb\xbf", "\f", "\v", "0", "01", "-", "1.", "1e", "1e+", ".5", "+1", "NaN", "tru", "nul", "fals", "true", "null",
	"x", "'", "/", "//", "/*", "\u00a0", "\u2028", "}}", ",,", "\t", "\r\n",
}

// Mutate is doc with tok put at pos (modulo its length plus one), in place
// of the n%4 bytes there.
func Mutate(doc string, pos uint16, n uint8, tok string) []byte {
	p := int(pos) % (len(doc) + 1)
	q := min(p+int(n%4), len(doc))
	return []byte(doc[:p] + tok + doc[q:])
}

// EachFault calls fn with every one of bodies with every fault of
// JSONFaults put at every position (in place of none and of one byte), and
// with every prefix of it, bare and followed by whitespace.
func EachFault(bodies []string, fn func(body []byte)) {
	for _, doc := range bodies {
		for p := 0; p <= len(doc); p++ {
			for _, tok := range JSONFaults {
				for n := uint8(0); n < 2; n++ {
					fn(Mutate(doc, uint16(p), n, tok))
				}
			}
		}
		for i := 0; i < len(doc); i++ {
			fn([]byte(doc[:i]))
			fn([]byte(doc[:i] + " \n\t"))
		}
	}
}

// FuzzFaults has f try fn on one of bodies with a fault put anywhere (one
// of JSONFaults, or the fuzzer's own bytes), then with a second fault from
// those bytes. sel is the fuzzer's too, for fn's own choices.
func FuzzFaults(f *testing.F, bodies []string, fn func(t *testing.T, body []byte, sel uint8)) {
	f.Add(uint8(0), uint16(10), uint8(0), uint8(3), uint8(1), []byte(""))
	f.Add(uint8(1), uint16(200), uint8(1), uint8(11), uint8(0), []byte(`"`))
	f.Fuzz(func(t *testing.T, bi uint8, pos uint16, n, tok, sel uint8, extra []byte) {
		fault := JSONFaults[int(tok)%len(JSONFaults)]
		if tok >= 200 {
			fault = string(extra)
		}
		body := Mutate(bodies[int(bi)%len(bodies)], pos, n, fault)
		fn(t, body, sel)
		if len(extra) > 0 {
			fn(t, Mutate(string(body), pos/3+uint16(extra[0]), extra[0]>>4, string(extra[1:])), sel)
		}
	})
}

// ObjectsInEveryOrder yields the JSON object of members (each a
// `"key":value` text) written in every order, n! of them: a test of a
// reader that must not depend on the order of a document's members.
func ObjectsInEveryOrder(members []string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		order := make([]string, len(members))
		var gen func(k int) bool
		gen = func(k int) bool {
			if k == len(members) {
				return yield("{" + strings.Join(order, ",") + "}")
			}
			for i := k; i < len(members); i++ {
				members[k], members[i] = members[i], members[k]
				order[k] = members[k]
				if !gen(k + 1) {
					return false
				}
				members[k], members[i] = members[i], members[k]
			}
			return true
		}
		members = slices.Clone(members)
		gen(0)
	}
}

// DeepBodies yields tmpl with its DEEP replaced by arrays nested so that
// the document reaches encoding/json's nesting limit (10,000 levels) and
// one level below and above it, counting the brackets open before DEEP
// (tmpl holds none in its strings): each plain, with an object at the
// deepest level, and with a fault after it. A reader that checks a
// document as it walks it must refuse exactly what json.Valid refuses.
func DeepBodies(tmpl string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		at := strings.Index(tmpl, "DEEP")
		base := 0
		for _, c := range tmpl[:at] {
			switch c {
			case '{', '[':
				base++
			case '}', ']':
				base--
			}
		}
		nest := func(d int, fill string) string { return strings.Repeat("[", d) + fill + strings.Repeat("]", d) }
		for d := 9999 - base; d <= 10001-base; d++ {
			for _, deep := range []string{nest(d, ""), nest(d-1, `{"type":"nope"}`), nest(d, "") + "x"} {
				if !yield(tmpl[:at] + deep + tmpl[at+len("DEEP"):]) {
					return
				}
			}
		}
	}
}

// EachHostileBody calls check with each of bodies, with each body
// DeepBodies makes of each of deep, and with each fault EachFault puts in
// each of faulty: a hostile trial's three families of documents.
func EachHostileBody(bodies, deep, faulty []string, check func(body []byte)) {
	for _, body := range bodies {
		check([]byte(body))
	}
	for _, tmpl := range deep {
		for body := range DeepBodies(tmpl) {
			check([]byte(body))
		}
	}
	EachFault(faulty, check)
}

// SameBothWays fails t unless convert gives body the same document, the
// same error and the same info (strip clears what may differ) whether it
// converts in the walk that checks body (inWalk) or after it: the
// translators' seam for their conversion in the checking walk.
func SameBothWays[I any](t testing.TB, body []byte, convert func(body []byte, inWalk bool) ([]byte, I, error), strip func(*I)) {
	t.Helper()
	doc1, info1, err1 := convert(body, true)
	doc2, info2, err2 := convert(body, false)
	strip(&info1)
	strip(&info2)
	if string(doc1) != string(doc2) || fmt.Sprint(err1) != fmt.Sprint(err2) || !reflect.DeepEqual(info1, info2) {
		t.Fatalf("%q:\nin the walk: %s %v %+v\nafter it:    %s %v %+v", body, doc1, err1, info1, doc2, err2, info2)
	}
}
