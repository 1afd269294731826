// Package responses translates the OpenAI Responses API to and from chat
// completions, so that Responses clients (the openai SDKs' responses.create,
// the Vercel AI SDK's OpenAI provider, the Codex CLI) run on any chat
// completions upstream. It is pure and transport-free: bytes in, bytes out.
//
//   - ToChat turns a Responses request into a chat completions body plus a
//     RequestInfo the response side needs.
//   - FromChat turns a chat completion into a Response object.
//   - InputItems, OutputItems and WithHistory serve stored conversations
//     (store, previous_response_id): the caller keeps the items and
//     splices them in front of a new request's input.
//   - Stream turns chat completion chunks into Responses stream events, each
//     with its sequence_number, in the order the openai SDKs' stream
//     accumulators require.
//
// Mapping (checked against OpenAI's Responses reference and DeepSeek's
// thinking mode guide):
//
//   - input: a string is one user message; items are messages (roles user,
//     assistant, system, developer; developer becomes system), function_call
//     and function_call_output (tool_calls and tool messages) and reasoning
//     (reasoning_content of the assistant message that follows it, which
//     DeepSeek needs back on tool-call turns). Consecutive assistant-side
//     items (reasoning, assistant message, function calls) fold into one
//     chat message. item_reference needs stored responses: the caller
//     resolves those (and previous_response_id) before calling ToChat.
//   - instructions becomes a leading system message.
//   - tools of type function -> chat function tools; custom (freeform)
//     tools -> functions taking {"input": string}, whose calls come back as
//     custom_tool_call items (RequestInfo.CustomTools); hosted tools
//     (web_search, file_search, local_shell, mcp, ...) are not sent
//     upstream (RequestInfo.DroppedTools). custom_tool_call and
//     custom_tool_call_output input items map like function calls.
//     tool_choice auto|none|required|{type:function|custom,name} maps
//     directly.
//   - max_output_tokens -> max_tokens; temperature, top_p copied;
//     text.format json_schema|json_object -> response_format;
//     reasoning.effort none -> thinking {"type":"disabled"}, other efforts
//     -> reasoning_effort (DeepSeek maps them to its levels).
//   - store, previous_response_id, metadata, include, truncation and
//     service_tier are not sent upstream; they are echoed in the Response.
//
// Output: a reasoning item (its text as a reasoning_text content part), a
// message item with one output_text part, and a function_call (or
// custom_tool_call) item per tool call, in that order. Usage carries input_tokens_details.cached_tokens
// (DeepSeek's prompt_cache_hit_tokens) and
// output_tokens_details.reasoning_tokens.
package responses
