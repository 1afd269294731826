package sim

import (
	"net/http"
	"strconv"
)

// handleModels lists the served models in OpenAI's shape.
func (s *Server) handleModels(w http.ResponseWriter) {
	b := make([]byte, 0, 64+96*len(s.models))
	b = append(b, `{"object":"list","data":[`...)
	for i, m := range s.models {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendModel(b, m)
	}
	b = append(b, ']', '}', '\n')
	writeBody(w, "application/json", b)
}

// handleModel answers GET /v1/models/{id}.
func (s *Server) handleModel(w http.ResponseWriter, id string) {
	m, ok := s.byName[id]
	if !ok {
		modelNotFound(w, id)
		return
	}
	writeBody(w, "application/json", append(s.appendModel(nil, m), '\n'))
}

func (s *Server) appendModel(b []byte, m *modelState) []byte {
	b = append(b, `{"id":`...)
	b = append(b, m.quoted...)
	b = append(b, `,"object":"model","created":`...)
	b = strconv.AppendInt(b, s.created, 10)
	return append(b, `,"owned_by":"dsgate-sim"}`...)
}

func writeBody(w http.ResponseWriter, contentType string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
