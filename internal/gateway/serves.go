package gateway

import (
	"net/http"

	"github.com/dsgate/dsgate/internal/openai"
)

// Serves reports whether a route serves model. The pipeline asks before
// admission, so that a name no route serves is neither admitted against
// the caller's limits nor recorded in usage.
func (g *Gateway) Serves(model string) bool {
	_, ok := g.routes[model]
	return ok
}

// ModelNotFound is the 404 for a model no route serves (ErrModelNotFound).
func ModelNotFound(model string) *openai.Error {
	return &openai.Error{
		Status:  http.StatusNotFound,
		Message: "The model `" + model + "` does not exist or you do not have access to it.",
		Type:    "invalid_request_error",
		Param:   "model",
		Code:    "model_not_found",
		Err:     ErrModelNotFound,
	}
}
