package sim

import (
	"strings"
	"unicode/utf8"
)

// Explicit content is answer text decided in full before it is sent: JSON
// output, or filler cut at a stop sequence. It is counted and streamed in
// pieces: a piece runs up to and including the next space, and is at most
// maxPiece bytes, never splitting a UTF-8 sequence. Filler words are short,
// so word text has one piece per word, like the word stream.
const maxPiece = 16

// pieceLen is the byte length of s's first piece.
func pieceLen(s string) int {
	if i := strings.IndexByte(s, ' '); i >= 0 && i < maxPiece {
		return i + 1
	}
	if len(s) <= maxPiece {
		return len(s)
	}
	n := maxPiece
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	if n == 0 { // a malformed run of continuation bytes: cut anyway
		n = maxPiece
	}
	return n
}

// countPieces is the token count of explicit text.
func countPieces(s string) int {
	n := 0
	for len(s) > 0 {
		s = s[pieceLen(s):]
		n++
	}
	return n
}

// cutPieces returns the first n pieces of s.
func cutPieces(s string, n int) string {
	off := 0
	for range n {
		if off >= len(s) {
			break
		}
		off += pieceLen(s[off:])
	}
	return s[:off]
}

// cutAtStop returns s up to the earliest occurrence of any stop sequence,
// which is not included, and whether one occurred.
func cutAtStop(s string, stops []string) (string, bool) {
	end := -1
	for _, stop := range stops {
		if i := strings.Index(s, stop); i >= 0 && (end < 0 || i < end) {
			end = i
		}
	}
	if end < 0 {
		return s, false
	}
	return s[:end], true
}

// wordsText renders n filler tokens from r as a string.
func wordsText(r *rng, n int) string {
	return string(appendWords(make([]byte, 0, 8*n), r, n))
}

// jsonAnswer is the JSON Output answer to response_format json_object: one
// object whose "answer" holds k filler words.
func jsonAnswer(r *rng, k int) string {
	b := make([]byte, 0, 16+8*k)
	b = append(b, `{"answer":"`...)
	b = appendWords(b, r, k)
	if k > 0 {
		b = b[:len(b)-1] // drop the trailing space
	}
	return string(append(b, `"}`...))
}
