package metrics

import (
	"strings"
	"unicode/utf8"
)

// Label values are bounded. A label value a client can choose makes a new
// series per value, which Prometheus keeps for the life of the process:
// 20,000 made-up model names on 404 answers made 20,000 series and 79 MB
// of memory that never came back (issue 13). And client_golang panics on a
// label value that is not valid UTF-8, which took a whole request down
// with it. So every method of Metrics passes its label values through
// Model, Upstream or Label: models and upstreams outside the configured
// names become Unknown, and every value is valid UTF-8 and at most
// MaxLabelLen bytes. Use the methods, not the vectors, with any value that
// did not come from the configuration.

// Unknown is the label value of a model or upstream that is not configured.
const Unknown = "unknown"

// MaxLabelLen caps a label value in bytes.
const MaxLabelLen = 128

// names is the configured model and upstream names.
type names struct {
	models, upstreams map[string]struct{}
}

// SetNames tells the metrics which model and upstream names are
// configured; anything else is labelled Unknown from then on. The server
// calls it at build and on every reload. Before the first call, values are
// only made valid and capped.
func (m *Metrics) SetNames(models, upstreams []string) {
	if m == nil {
		return
	}
	n := &names{models: make(map[string]struct{}, len(models)), upstreams: make(map[string]struct{}, len(upstreams))}
	for _, v := range models {
		n.models[v] = struct{}{}
	}
	for _, v := range upstreams {
		n.upstreams[v] = struct{}{}
	}
	m.names.Store(n)
}

// Model is the label value for a model name.
func (m *Metrics) Model(v string) string {
	if n := m.names.Load(); n != nil {
		if _, ok := n.models[v]; !ok {
			return Unknown
		}
	}
	return Label(v)
}

// Upstream is the label value for an upstream name.
func (m *Metrics) Upstream(v string) string {
	if n := m.names.Load(); n != nil {
		if _, ok := n.upstreams[v]; !ok {
			return Unknown
		}
	}
	return Label(v)
}

// Label makes v a safe label value: valid UTF-8 (invalid bytes become
// U+FFFD) and at most MaxLabelLen bytes, cut on a rune boundary. It does
// not allocate for a value that is already safe.
func Label(v string) string {
	if len(v) <= MaxLabelLen && utf8.ValidString(v) {
		return v
	}
	v = strings.ToValidUTF8(v, "\uFFFD")
	if len(v) <= MaxLabelLen {
		return v
	}
	cut := MaxLabelLen
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut]
}
