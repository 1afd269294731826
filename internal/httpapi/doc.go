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
// ErrorShapeListener gives the answers net/http writes before any handler
// (431, malformed requests) the same OpenAI error shape.
package httpapi
