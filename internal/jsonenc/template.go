package jsonenc

import "bytes"

// Template is a JSON document with one string value cut out, for reading
// documents that differ from it only in that string: the chunks of one
// stream repeat their id, created, model and choice around each token
// ({"id":"x",...,"choices":[{"index":0,"delta":{"content":"` TOKEN
// `"},"finish_reason":null}]}).
//
// A document that is the template's bytes around one complete, valid JSON
// string reads exactly as the template's document did, but for that
// string: the bytes before it leave any JSON reader in the same state as
// they did (where a value starts); a string token leaves it after a
// value, as the cut-out string did; and the same bytes follow. So the
// document is valid exactly when the string is, and every other value
// (duplicate keys included) reads as it did.
type Template struct {
	bytes []byte // the document without the string
	at    int    // where the string was cut out
	set   bool
}

// Set makes doc, valid JSON with a string value at doc[start:end], the
// template, copying it.
func (t *Template) Set(doc []byte, start, end int) {
	// Sized for what it keeps, not for the string: a replayed answer's
	// one chunk may carry the whole text.
	if n := len(doc) - (end - start); cap(t.bytes) < n {
		t.bytes = make([]byte, 0, max(n, 512)) // once per stream, as a rule
	}
	t.bytes = append(append(t.bytes[:0], doc[:start]...), doc[end:]...)
	t.at, t.set = start, true
}

// SetCut is Set for doc without doc[cut0:cut1], which comes before the
// string (cut1 <= start): the caller knows that doc without those bytes is
// valid JSON that reads as it wants the template's documents to read (a
// chunk without a member it does not read, and the comma after it).
func (t *Template) SetCut(doc []byte, cut0, cut1, start, end int) {
	if n := len(doc) - (end - start) - (cut1 - cut0); cap(t.bytes) < n {
		t.bytes = make([]byte, 0, max(n, 512))
	}
	t.bytes = append(append(append(t.bytes[:0], doc[:cut0]...), doc[cut1:start]...), doc[end:]...)
	t.at, t.set = start-(cut1-cut0), true
}

// Clear drops the template; its storage stays for the next Set.
func (t *Template) Clear() { t.set = false }

// Reset is Clear, and lets storage grown by a huge document go.
func (t *Template) Reset() {
	t.Clear()
	if cap(t.bytes) > 16<<10 {
		t.bytes = nil
	}
}

// Match reports whether doc is the template's bytes around one valid JSON
// string, and returns that string token, quotes included.
func (t *Template) Match(doc []byte) (str []byte, ok bool) {
	if !t.set || len(doc) < len(t.bytes)+2 {
		return nil, false
	}
	head, tail := t.bytes[:t.at], t.bytes[t.at:]
	if !bytes.HasPrefix(doc, head) || !bytes.HasSuffix(doc, tail) {
		return nil, false
	}
	// Checked where it is in doc, not as a slice of its own: the test
	// of eight bytes at a time then reaches its short strings too.
	end := len(doc) - len(tail)
	if e, ok := String(doc, len(head)); !ok || e != end {
		return nil, false
	}
	return doc[len(head):end], true
}

// At is where the template's string goes in its document.
func (t *Template) At() int { return t.at }

// Append appends to dst the template's document with str, a JSON string
// token, where its string was.
func (t *Template) Append(dst, str []byte) []byte {
	return append(append(append(dst, t.bytes[:t.at]...), str...), t.bytes[t.at:]...)
}

// CutTemplate is a Template kept two ways when it is set with a cut (see
// SetCut): without the cut-out bytes and whole. A stream's first chunk has
// a member (its role) the chunks after it usually lack, so the template
// without it matches them; an engine that repeats the member in every
// chunk (Ollama repeats the role) sends documents only the whole one
// matches, and the first such document makes the whole one the template.
type CutTemplate struct {
	doc, whole Template
	cut        bool // doc has a cut; whole is set
}

// Set is Template.Set.
func (t *CutTemplate) Set(doc []byte, start, end int) {
	t.doc.Set(doc, start, end)
	t.cut = false
}

// SetCut is Template.SetCut, keeping doc whole as well.
func (t *CutTemplate) SetCut(doc []byte, cut0, cut1, start, end int) {
	t.doc.SetCut(doc, cut0, cut1, start, end)
	t.whole.Set(doc, start, end)
	t.cut = true
}

// Clear drops the template; its storage stays for the next Set.
func (t *CutTemplate) Clear() {
	t.doc.Clear()
	t.cut = false
}

// Reset is Clear, and lets storage grown by a huge document go.
func (t *CutTemplate) Reset() {
	t.doc.Reset()
	t.whole.Reset()
	t.cut = false
}

// Cut reports whether the template in use has its cut: after a Match,
// whether the document matched was without the cut bytes.
func (t *CutTemplate) Cut() bool { return t.cut }

// Match is Template.Match against the template with its cut, then whole.
func (t *CutTemplate) Match(doc []byte) (str []byte, ok bool) {
	if str, ok = t.doc.Match(doc); ok || !t.cut {
		return str, ok
	}
	if str, ok = t.whole.Match(doc); ok {
		t.doc, t.whole, t.cut = t.whole, t.doc, false
	}
	return str, ok
}
