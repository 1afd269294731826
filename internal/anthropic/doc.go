// Package anthropic translates the Anthropic Messages API to and from chat
// completions, so that Anthropic SDK clients and agents (Claude Code) can
// run on any chat completions upstream (DeepSeek's cloud, which serves the
// Messages API itself, gets requests relayed untouched instead: Inspect,
// UsageOf and UsageFromEvent serve that relay). It is pure and transport-free:
// bytes in, bytes out; the HTTP layer owns routing, auth and SSE framing.
//
//   - ToChat turns a Messages request into a chat completions body plus a
//     RequestInfo the response side needs.
//   - FromChat turns a chat completion into a Message.
//   - Stream turns chat completion chunks into Anthropic's SSE events
//     (message_start, ping, content_block_start/delta/stop, message_delta,
//     message_stop, error).
//   - FromOpenAIError maps an OpenAI-shaped error to Anthropic's shape and
//     status; CountTokens estimates /v1/messages/count_tokens.
//
// Mapping (checked against Anthropic's Messages reference and DeepSeek's
// Anthropic compatibility table, api-docs.deepseek.com/guides/anthropic_api):
//
//   - system (string or text blocks) becomes one leading system message.
//   - user text and image blocks become user content; tool_result blocks
//     become tool messages, placed before the user's other content.
//   - assistant thinking blocks become reasoning_content (DeepSeek needs it
//     back on tool-call turns); redacted_thinking is opaque and dropped;
//     tool_use blocks become tool_calls.
//   - thinking {type: enabled|adaptive} becomes DeepSeek's thinking
//     {"type":"enabled"} (budget_tokens is dropped, as DeepSeek ignores it);
//     disabled becomes {"type":"disabled"}; output_config.effort becomes
//     reasoning_effort.
//   - stop_sequences -> stop, max_tokens -> max_tokens; temperature and
//     top_p are copied; top_k, metadata, service_tier, cache_control and
//     citations are ignored (chat completions has no equivalent).
//   - tool_choice auto|any|tool|none -> "auto"|"required"|{function}|"none";
//     disable_parallel_tool_use -> parallel_tool_calls false. Server and
//     built-in tools (a tool with a type such as web_search_20250305) are
//     not sent upstream; RequestInfo.DroppedTools names them.
//
// Thinking signatures: chat completions has none, so FromChat and Stream
// sign each thinking block with Signature, a deterministic digest of its
// text. ToChat accepts the block back; a block carrying one of our
// signatures that no longer matches its text was edited and is rejected,
// as Anthropic rejects edited thinking. Foreign signatures are accepted.
package anthropic
