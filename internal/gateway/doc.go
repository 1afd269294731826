// Package gateway is dsgate's transport-free request pipeline from a
// validated request to an upstream answer: resolve the public model, pick a
// target, adapt the body to that upstream, call it, retry on another target
// while nothing has reached the client, and adapt the answer back.
//
// Bodies travel as bytes. The gateway rewrites only the few members it must
// (model name, stream_options, thinking defaults, reasoning field names)
// with the scanner in internal/openai, and relays everything else untouched,
// so unknown fields survive in both directions and nothing is re-encoded.
//
// HTTP (internal/httpapi) and gRPC adapters call Complete or Stream; the
// gateway never sees a transport.
package gateway
