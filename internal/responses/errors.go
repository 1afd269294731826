package responses

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/dsgate/dsgate/internal/openai"
)

// Errors are *openai.Error values: the Responses API uses OpenAI's error
// envelope, so the gateway's ordinary error rendering applies.

func invalid(param, msg string) *openai.Error { return openai.InvalidRequest(param, msg) }

// decodeError reports a body that is not the expected JSON.
func decodeError(err error) *openai.Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		e := openai.InvalidRequest(te.Field, te.Field+": expected "+te.Type.String()+", got "+te.Value)
		e.Err = err
		return e
	}
	e := openai.InvalidRequest("", "request body is not valid JSON")
	e.Err = err
	return e
}

// upstreamError reports an upstream answer that cannot be read.
func upstreamError(err error) *openai.Error {
	return &openai.Error{Status: http.StatusBadGateway, Type: "server_error",
		Message: "upstream returned an unreadable completion", Err: err}
}
