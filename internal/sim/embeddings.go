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
	dims, base64Format, ok := s.embeddingFormat(w, &req)
	if !ok {
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
	prompt := 0
	for _, it := range req.Input.items {
		prompt += it.tokens
	}
	s.countTokens(m, prompt, 0)
	c.writeJSON(embeddingsBody(m, req.Input.items, prompt, dims, base64Format))
}

// embeddingFormat validates dimensions and encoding_format, answering 400
// itself when they are bad.
func (s *Server) embeddingFormat(w http.ResponseWriter, req *embeddingRequest) (dims int, b64, ok bool) {
	dims = s.opts.EmbeddingDimensions
	if req.Dimensions != nil {
		if *req.Dimensions < 1 || *req.Dimensions > maxDimensions {
			badRequest(w, "dimensions", "dimensions must be between 1 and "+strconv.Itoa(maxDimensions))
			return 0, false, false
		}
		dims = *req.Dimensions
	}
	switch req.EncodingFormat {
	case "", "float":
		return dims, false, true
	case "base64":
		return dims, true, true
	}
	badRequest(w, "encoding_format", `encoding_format must be "float" or "base64"`)
	return 0, false, false
}

// embeddingsBody renders the response; base64 vectors are little-endian
// float32 arrays, as the OpenAI SDKs decode them.
func embeddingsBody(m *modelState, items []inputItem, prompt, dims int, b64 bool) []byte {
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
	for i, it := range items {
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
