package testkit

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
