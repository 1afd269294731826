package auth

import (
	"net/http"
	"strings"
)

// KeyPrefix starts every dsgate API key.
const KeyPrefix = "dsg_"

// Credential returns the bearer credential of r: the token of an
// "Authorization: Bearer" header or the value of "x-api-key" (sent by
// Anthropic-style SDKs). It returns ErrNoCredentials when neither is
// present and ErrMalformed for another Authorization scheme, an empty or
// space-containing token, repeated headers, or two headers that disagree.
func Credential(r *http.Request) (string, error) {
	authz := r.Header.Values("Authorization")
	apiKey := r.Header.Values("X-Api-Key")
	if len(authz) > 1 || len(apiKey) > 1 {
		return "", ErrMalformed
	}
	var bearer string
	if len(authz) == 1 {
		scheme, token, ok := strings.Cut(authz[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", ErrMalformed
		}
		bearer = strings.TrimLeft(token, " ")
		if bearer == "" || hasBlank(bearer) {
			return "", ErrMalformed
		}
	}
	switch {
	case len(apiKey) == 1 && (apiKey[0] == "" || hasBlank(apiKey[0])):
		return "", ErrMalformed
	case len(apiKey) == 1 && bearer != "" && apiKey[0] != bearer:
		return "", ErrMalformed
	case len(apiKey) == 1:
		return apiKey[0], nil
	case bearer != "":
		return bearer, nil
	}
	return "", ErrNoCredentials
}

// hasBlank reports whether s has a space or a tab (two byte searches:
// strings.ContainsAny builds a set each call, a tenth of a request's
// authentication).
func hasBlank(s string) bool {
	return strings.IndexByte(s, ' ') >= 0 || strings.IndexByte(s, '\t') >= 0
}

// looksLikeJWT reports whether tok has the three dot-separated parts of a
// JWS compact serialization.
func looksLikeJWT(tok string) bool {
	return strings.Count(tok, ".") == 2
}
