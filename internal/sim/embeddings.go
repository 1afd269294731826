package sim

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"strconv"
)

// handleEmbeddings answers with deterministic unit vectors: each input's
// vector depends only on the model and that input.
func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	var req embeddingRequest
	if !decode(w, r, &req) {
		return
	}
	m, ok := s.lookupModel(w, req.Model)
	if !ok {
		return
	}
	if !req.Input.set || len(req.Input.items) == 0 {
		badRequest(w, "input", "input must be a non-empty string or array")
		return
	}
	dims := s.opts.EmbeddingDimensions
	if req.Dimensions != nil {
		if *req.Dimensions < 1 || *req.Dimensions > maxDimensions {
			badRequest(w, "dimensions", "dimensions must be between 1 and "+strconv.Itoa(maxDimensions))
			return
		}
		dims = *req.Dimensions
	}
	base64Format := false
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		base64Format = true
	default:
		badRequest(w, "encoding_format", `encoding_format must be "float" or "base64"`)
		return
	}
	c := call{s: s, w: w, r: r, rc: http.NewResponseController(w), m: m}
	if !s.admit(&c) {
		return
	}
	if err := s.acquire(&c); err != nil {
		return
	}
	defer s.release(&c)
	if err := c.wait(c.delay); err != nil {
		return
	}
	c.writeJSON(s.embeddingsBody(m, req.Input.items, dims, base64Format))
}

func (s *Server) embeddingsBody(m *modelState, items []inputItem, dims int, b64 bool) []byte {
	h := newHasher()
	h.addField(m.name)
	modelSeed := h.sum()
	vec := make([]float32, dims)
	raw := make([]byte, 0, 4*dims)
	per := 16 * dims
	if b64 {
		per = base64.StdEncoding.EncodedLen(4 * dims)
	}
	b := make([]byte, 0, 128+len(m.quoted)+len(items)*(per+48))
	b = append(b, `{"object":"list","data":[`...)
	prompt := 0
	for i, it := range items {
		prompt += it.tokens
		unitVector(vec, modelSeed^it.hash)
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		if b64 {
			raw = raw[:0]
			for _, v := range vec {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		} else {
			b = append(b, '[')
			for j, v := range vec {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	s.countTokens(m, prompt, 0)
	b = append(b, `],"model":`...)
	b = append(b, m.quoted...)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = appendIntField(b, "total_tokens", prompt)
	return append(b, '}', '}', '\n')
}

// unitVector fills v with a deterministic vector of length 1.
func unitVector(v []float32, seed uint64) {
	r := rng{state: seed}
	var norm float64
	for i := range v {
		x := r.float64()*2 - 1
		v[i] = float32(x)
		norm += float64(v[i]) * float64(v[i])
	}
	if norm == 0 {
		v[0], norm = 1, 1
	}
	inv := 1 / math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}
