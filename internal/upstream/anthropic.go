package upstream

import "net/http"

// anthropicPath is where DeepSeek serves the Anthropic Messages API: its
// Anthropic base URL is https://api.deepseek.com/anthropic, and Anthropic
// clients append /v1/messages (api-docs.deepseek.com/guides/anthropic_api).
// DeepSeek documents no count_tokens there, so dsgate counts locally.
const anthropicPath = "/anthropic/v1/messages"

// anthropicVersion is sent as Anthropic clients send it; DeepSeek ignores
// the header, and so does its double.
const anthropicVersion = "2023-06-01"

// anthropicHeaders authenticates a Messages request the way DeepSeek's
// Anthropic endpoint documents it: the upstream key in x-api-key (the
// client's own key never travels upstream).
func (u *Upstream) anthropicHeaders(h http.Header) {
	if u.opts.APIKey != "" {
		h.Set("X-Api-Key", u.opts.APIKey)
	}
	h.Set("Anthropic-Version", anthropicVersion)
}
