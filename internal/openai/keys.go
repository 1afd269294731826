package openai

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// Key smuggling. dsgate reads a few fields of a body (model, stream,
// max_tokens ...) and forwards the body itself. Upstreams do not all read
// JSON alike: engines written in Go (Ollama, the simulator) match keys
// without regard to case and let the last duplicate win, Python engines
// match exactly and keep the last duplicate. A body such as
// {"model":"a","MODEL":"b"} would be routed, authorised and limited as "a"
// and answered as "b". So the parser refuses, with a 400 naming the key,
// any object it interprets (the body, stream_options, thinking,
// chat_template_kwargs and each message) that holds two keys equal up to
// case (an exact duplicate included), and any key that equals an
// interpreted one up to case without being it ("Stream" alone). Case is
// compared the way encoding/json folds field names (each rune to
// upper(lower(r)), so "ſtream", "max_to\u212Aens" and "İ"/"i" count), which
// refuses every pair strings.EqualFold matches and a few more.

// Interpreted keys per object. Every name is lower-case ASCII.
var (
	topKeys = []string{
		"model", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n",
		"messages", "thinking", "chat_template_kwargs", "reasoning_effort", "prompt", "suffix", "input",
		"encoding_format", "dimensions", "seed", "best_of",
	}
	streamOptionKeys = []string{"include_usage"}
	thinkingKeys     = []string{"type", "budget_tokens"}
	templateKeys     = []string{"thinking", "enable_thinking"}
	messageKeys      = []string{"role", "content"}
)

// smallObject is the number of keys compared pairwise before keyGuard
// switches to a map of folded keys, which keeps huge objects linear.
const smallObject = 16

// keyGuard checks the keys of one JSON object as they are walked. The
// zero value with known set is ready; it allocates only past smallObject
// keys.
type keyGuard struct {
	known []string
	path  string // prefix for Param: "", "stream_options.", "messages"
	index int    // with path "messages": the message's index, rendered as [i].
	seen  [smallObject]string
	n     int
	set   map[string]struct{} // folded keys, once n reaches smallObject
}

// check refuses key when an earlier key of the object equals it up to
// case, or when it is a case variant of an interpreted key.
func (g *keyGuard) check(key string) error {
	if !g.isKnown(key) {
		for _, k := range g.known {
			if foldEqual(key, k) {
				return g.refuse(key, fmt.Sprintf("invalid key %q: %q is the only spelling accepted (keys are compared without regard to case)", clipEcho(key), k))
			}
		}
	}
	if g.set != nil {
		f := foldKey(key)
		if _, dup := g.set[f]; dup {
			return g.refuseDuplicate(key)
		}
		g.set[f] = struct{}{}
		return nil
	}
	for _, k := range g.seen[:g.n] {
		if foldEqual(k, key) {
			return g.refuseDuplicate(key)
		}
	}
	if g.n < smallObject {
		g.seen[g.n] = key
		g.n++
		return nil
	}
	g.set = make(map[string]struct{}, 4*smallObject)
	for _, k := range g.seen {
		g.set[foldKey(k)] = struct{}{}
	}
	g.set[foldKey(key)] = struct{}{}
	return nil
}

func (g *keyGuard) isKnown(key string) bool {
	for _, k := range g.known {
		if k == key {
			return true
		}
	}
	return false
}

func (g *keyGuard) refuseDuplicate(key string) error {
	return g.refuse(key, fmt.Sprintf("duplicate key %q: each key may appear once (keys are compared without regard to case)", clipEcho(key)))
}

func (g *keyGuard) refuse(key, msg string) error {
	key = clipEcho(key)
	if g.path == "messages" {
		return InvalidRequest(fmt.Sprintf("messages[%d].%s", g.index, key), msg)
	}
	return InvalidRequest(g.path+key, msg)
}

// foldRune is the fold encoding/json applies to field names.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	return unicode.ToUpper(unicode.ToLower(r))
}

// foldKey returns s folded rune by rune: foldKey(a) == foldKey(b) exactly
// when foldEqual(a, b).
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldEqual compares a and b under foldRune without allocating.
func foldEqual(a, b string) bool {
	for a != "" && b != "" {
		ca, cb := a[0], b[0]
		if ca|cb < utf8.RuneSelf { // both ASCII: the common case
			if ca != cb && (ca|0x20 != cb|0x20 || ca|0x20 < 'a' || ca|0x20 > 'z') {
				return false
			}
			a, b = a[1:], b[1:]
			continue
		}
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb && foldRune(ra) != foldRune(rb) {
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return a == b
}

// KeyGuard refuses, as the chat parser does, the keys of a JSON object
// that a body relayed as it came could be read differently by (two keys
// equal up to case, a case variant of one of known; see "Key smuggling"):
// for another API's parser that reads the same fields (anthropic), in the
// walk that reads the object. NewKeyGuard makes one.
type KeyGuard struct{ g keyGuard }

// NewKeyGuard is a KeyGuard for an object whose keys named known are
// read; path prefixes the Param of a refusal.
func NewKeyGuard(path string, known []string) KeyGuard {
	return KeyGuard{keyGuard{known: known, path: path}}
}

// Check refuses key, the next key of the object as written (its caller
// refuses escapes), when it is ambiguous with an earlier one or with a
// known key. A known key costs no allocation.
func (k *KeyGuard) Check(key []byte) error {
	for _, s := range k.g.known {
		if string(key) == s {
			return k.g.check(s)
		}
	}
	return k.g.check(string(key))
}

// guardedObject walks the object obj with fn like eachMember, refusing
// ambiguous keys first. path prefixes the Param of a refusal.
func guardedObject(obj []byte, path string, known []string, fn func(key string, val []byte) error) error {
	g := keyGuard{known: known, path: path}
	return g.walk(obj, fn)
}

// walkValid is walk for an object not yet validated (a client's request
// body): the walk checks the object's syntax and every value it passes
// (jsonenc.Members and Value), so a request costs one pass, not a
// validating pass and then the walk's. It returns the index just past the
// object, and errMalformed for a malformed one.
func (g *keyGuard) walkValid(obj []byte, fn func(key string, val []byte) error) (int, error) {
	var err error
	end, ok := jsonenc.Members(obj, 0, 1, func(raw []byte, at int) (int, bool) {
		vEnd, ok := jsonenc.Value(obj, at, 1)
		if !ok {
			return vEnd, false
		}
		key, ok := keyString(raw)
		if !ok {
			return vEnd, false
		}
		if err = g.check(key); err == nil && fn != nil {
			err = fn(key, obj[at:vEnd])
		}
		return vEnd, err == nil
	})
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, errMalformed
	}
	return end, nil
}

// walk is guardedObject for a guard set up by the caller.
func (g *keyGuard) walk(obj []byte, fn func(key string, val []byte) error) error {
	return eachMember(obj, func(key string, v []byte) error {
		if err := g.check(key); err != nil {
			return err
		}
		if fn == nil {
			return nil
		}
		return fn(key, v)
	})
}
