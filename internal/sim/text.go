package sim

// FNV-1a 64-bit, written out so hashing a request allocates nothing
// (hash/fnv returns an interface value).
const (
	fnvOffset64 uint64 = 14695981039346656037
	fnvPrime64  uint64 = 1099511628211
	golden64    uint64 = 0x9e3779b97f4a7c15
)

type hasher uint64

func newHasher() hasher { return hasher(fnvOffset64) }

func (h *hasher) addString(s string) {
	v := uint64(*h)
	for i := 0; i < len(s); i++ {
		v ^= uint64(s[i])
		v *= fnvPrime64
	}
	*h = hasher(v)
}

// addField hashes s followed by a separator so ("ab","c") and ("a","bc") differ.
func (h *hasher) addField(s string) {
	h.addString(s)
	h.addUint64(0xff)
}

func (h *hasher) addUint64(x uint64) {
	v := uint64(*h)
	for range 8 {
		v ^= x & 0xff
		v *= fnvPrime64
		x >>= 8
	}
	*h = hasher(v)
}

func (h hasher) sum() uint64 { return uint64(h) }

// mix64 is the splitmix64 finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// rng is splitmix64: tiny, allocation-free and plenty for choosing words.
type rng struct{ state uint64 }

func (r *rng) next() uint64 {
	r.state += golden64
	return mix64(r.state)
}

// float64 returns a value in [0, 1).
func (r *rng) float64() float64 { return float64(r.next()>>11) / (1 << 53) }

func (r *rng) word() string { return wordList[r.next()%uint64(len(wordList))] }

// wordList is read-only. Words are plain ASCII letters, so they can be
// appended into JSON strings without escaping.
var wordList = [...]string{
	"the", "model", "answer", "is", "a", "simulated", "response", "from", "dsgate",
	"token", "stream", "request", "gateway", "cache", "upstream", "deep", "seek",
	"quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "then", "runs",
	"far", "away", "into", "green", "hills", "where", "rivers", "flow", "slowly",
	"under", "bright", "stars", "every", "night", "while", "engines", "hum",
	"softly", "in", "data", "centers", "serving", "many", "users", "with", "fast",
	"replies", "about", "code", "math", "poems", "and", "stories", "we", "think",
	"carefully", "before", "writing", "this", "small", "note",
}

// cityList supplies deterministic tool-call arguments.
var cityList = [...]string{"Hangzhou", "Beijing", "Paris", "Berlin", "Tokyo", "Lisbon", "Nairobi", "Lima"}

// appendWords appends n tokens ("word ") from r.
func appendWords(b []byte, r *rng, n int) []byte {
	for range n {
		b = append(b, r.word()...)
		b = append(b, ' ')
	}
	return b
}

// countWords counts whitespace-separated words without allocating; it is
// the simulator's prompt-token estimate.
func countWords(s string) int {
	n, in := 0, false
	for i := 0; i < len(s); i++ {
		space := s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'
		if !space && !in {
			n++
		}
		in = !space
	}
	return n
}

// containsFold reports whether s contains the ASCII-lowercase word sub,
// ignoring ASCII case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}
