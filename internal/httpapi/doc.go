// Package httpapi is dsgate's OpenAI/DeepSeek-compatible HTTP surface: the
// routes, the middleware chain (assembled in order in New), the SSE writer
// and the one function that turns errors into HTTP responses (errors.go).
//
// It adapts HTTP to internal/gateway and nothing else: handlers decode and
// validate with internal/openai, hand a gateway.Call over, and write what
// comes back.
package httpapi
