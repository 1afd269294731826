package chatwire_test

import (
	"testing"

	"github.com/dsgate/dsgate/internal/anthropic"
	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/responses"
)

// streamTranslator is what both stream translators offer.
type streamTranslator interface {
	Chunk(chunk []byte, emit func(string, []byte) error) error
	Flush(emit func(string, []byte) error) error
	Finish(emit func(string, []byte) error) error
}

var translators = []struct {
	name string
	new  func() streamTranslator
}{
	{"messages", func() streamTranslator { return anthropic.NewStream(anthropic.RequestInfo{}) }},
	{"responses", func() streamTranslator { return responses.NewStream(responses.RequestInfo{}) }},
}

// allowed adds the race detector's own allocations to a limit.
func allowed(limit float64) float64 {
	if chatwire.RaceEnabled {
		return limit + 8
	}
	return limit
}

// A whole streamed answer costs a fixed handful of allocations (the
// translator, its buffers, the id and model strings, the signature's
// hash, the chunk template's bytes with the role and without, the chunk
// head's bytes, the Messages translator's text kept until a flush), not
// some per chunk. (A released translator keeps them for the next stream;
// these are never released.)
func TestStreamTranslatorAllocs(t *testing.T) {
	limits := map[string]float64{
		"messages/chat_stream_text.sse":  12,
		"messages/chat_stream_tool.sse":  13, // + the call's id and name
		"responses/chat_stream_text.sse": 12,
		"responses/chat_stream_tool.sse": 15, // + the call's id and name, its chunk slot, the arguments
	}
	for _, tr := range translators {
		for _, fixture := range []string{"chat_stream_text.sse", "chat_stream_tool.sse"} {
			cs := chunks(t, fixture)
			name := tr.name + "/" + fixture
			a := testing.AllocsPerRun(50, func() {
				s := tr.new()
				for _, c := range cs {
					if err := s.Chunk(c, discard); err != nil {
						t.Fatal(err)
					}
					if err := s.Flush(discard); err != nil { // each chunk flushed as it comes
						t.Fatal(err)
					}
				}
				if err := s.Finish(discard); err != nil {
					t.Fatal(err)
				}
			})
			if a > allowed(limits[name]) {
				t.Errorf("%s: %v allocations per stream, want at most %v", name, a, limits[name])
			}
		}
	}
}

// Once a block or item is open, a text delta allocates nothing: the text
// is copied from the chunk into the event as it is escaped.
func TestStreamTextDeltaAllocs(t *testing.T) {
	first := []byte(`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}`)
	delta := []byte(`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"more \"text\" on\na new line, 21°C"},"finish_reason":null}]}`)
	for _, tr := range translators {
		s := tr.new()
		if err := s.Chunk(first, discard); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(discard); err != nil { // each chunk flushed as it comes
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(200, func() {
			if err := s.Chunk(delta, discard); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(discard); err != nil { // each chunk flushed as it comes
				t.Fatal(err)
			}
		}); a > allowed(0) {
			t.Errorf("%s: a text delta costs %v allocations, want 0", tr.name, a)
		}
	}
}
