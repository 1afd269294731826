// Package openai holds the OpenAI/DeepSeek wire format as dsgate needs it:
// the error envelope, the few request fields the gateway must read to route
// and validate, usage accounting, a scanner that finds and replaces top-level
// JSON fields without decoding the rest of a body, and an SSE reader.
//
// The gateway forwards request and response bodies as bytes; it decodes only
// what it must look at. Unknown request fields are therefore passed through
// to the upstream unchanged (SDKs send extras such as top_k or
// chat_template_kwargs through extra_body), and unknown response fields reach
// the client unchanged.
//
// It is a leaf package: standard library only.
package openai
