// Package httpapi is dsgate's HTTP transport. Every request passes, in
// order:
//
//   - the frame (middleware.go): request id, security headers, body size
//     limit and body read deadline, request deadline, span, and one
//     deferred function that recovers a panic from anywhere below and then
//     writes the metrics, the audit record and the access-log line;
//   - the mux;
//   - the route adapter (adapter.go), for dsgate's own routes and for the
//     handlers mounted from other packages (admin, files and batches,
//     cache admin, OAuth2) alike: it authenticates from the headers before
//     anything reads the body, authorizes from the route table, records
//     the caller, and renders the handler's error (fail, errors.go) through
//     the one error table, internal/apierror;
//   - the handler. Inference handlers read the body and hand it to
//     internal/pipeline, which owns the request sequence.
//
// The Anthropic Messages API (POST /v1/messages and count_tokens, also
// under /anthropic) and the OpenAI Responses API (POST /v1/responses, GET
// and DELETE /v1/responses/{id}) are served by translation (apis.go): the
// body becomes a chat completion (internal/anthropic, internal/responses),
// runs through the same pipeline, and the answer or each streamed chunk is
// translated back. Their routes render errors in their API's shape
// (perm.shape: Anthropic's {"type":"error",...}); the record names their
// own route and keeps their own request and answer. Stored responses
// (store, previous_response_id) live in Options.Responses, keyed by the
// principal, so another principal's are a 404.
//
// ErrorShapeListener gives the answers net/http writes before any handler
// (431, malformed requests) the same OpenAI error shape.
package httpapi
