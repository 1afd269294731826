package server

import (
	"encoding/json"
	"net/http"

	"github.com/dsgate/dsgate/internal/openai"
)

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeAdminError(w http.ResponseWriter, status int, typ, msg string) {
	e := &openai.Error{Status: status, Type: typ, Message: msg}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(e.JSON())
}
