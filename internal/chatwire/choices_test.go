package chatwire

import (
	"fmt"
	"strings"
	"testing"
)

// choicesTails follow a chunk's head: choices written the usual way, and
// every way readChoices must read as the walk does or leave to it (nulls,
// names given twice, escapes, spaces, unknown members of any kind, tool
// calls, a delta of another type, two choices, faults).
var choicesTails = []string{
	`"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
	`"choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}`,
	`"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
	`"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":17,"total_tokens":29}}`,
	`"choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null,"stop_reason":null}]}`,
	`"choices":[{"finish_reason":null,"index":0,"delta":{"content":"x"}}],"created":1,"timings":{"predicted_n":1}}`,
	`"choices":[{"index":0,"message":{"role":"assistant","content":"a","reasoning_content":"r","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]}`,
	`"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":""}}]}}]}`,
	`"choices":[{"index":0,"delta":{"tool_calls":5}}]}`,
	`"choices":[{"index":0,"delta":{"role":"assistant"}}]}`,
	`"choices":[{"delta":{"role":5,"content":"x"}}]}`,
	`"choices":[{"delta":{"role":null,"content":"x"}}]}`,
	`"choices":[{"delta":null,"finish_reason":"length"}]}`,
	`"choices":[{"delta":5}]}`,
	`"choices":[{"delta":"x"}]}`,
	`"choices":[{"message":[]}]}`,
	`"choices":[{"delta":{"content":null,"content":"y"}}]}`,
	`"choices":[{"delta":{"content":"a","content":"b"}}]}`,
	`"choices":[{"delta":{"content":"a","content":null}}]}`,
	`"choices":[{"delta":{"content":5,"refusal":"no"}}]}`,
	`"choices":[{"finish_reason":"stop","finish_reason":null}]}`,
	`"choices":[{"finish_reason":"odd_reason"}]}`,
	`"choices":[{"finish_reason":5}]}`,
	`"choices":[{"delta":{"content":"a\"b\u00e9\n"}}]}`,
	`"choices":[{"delta":{"content":"x\q"}}]}`,
	`"choices":[{"delta":{"cont\u0065nt":"x"}}]}`,
	`"choices":[{"d\u0065lta":{"content":"x"}}]}`,
	`"choices":[{"délta":{"content":"x"}}]}`,
	`"choices":[ {"delta":{"content":"x"}}]}`,
	`"choices":[{ "delta":{"content":"x"}}]}`,
	`"choices":[{"delta" :{"content":"x"}}]}`,
	`"choices":[{"delta":{"content":"x"} }]}`,
	`"choices":[{"delta":{"content": "x"}}]}`,
	`"choices":[{"logprobs":{"content":[{"token":"a","logprob":-0.1,"top_logprobs":[]}]},"delta":{"content":"a"}}]}`,
	`"choices":[{"delta":{"x":[1,{"y":[null,true,false,"z"]}],"content":"a"}}]}`,
	`"choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}}]}`,
	`"choices":[{}]}`, `"choices":[{"delta":{}}]}`, `"choices":[{},]}`, `"choices":[{"a":1,}]}`, `"choices":[{"a" 1}]}`,
	`"choices":[{"a":1}]x}`, `"choices":[{"a":1}`, `"choices":[{"a":`, `"choices":[{`, `"choices":[`, `"choices":[{"a":tru}]}`,
	`"choices":[{"delta":{"content":"a"}}],"choices":[{"delta":{}}]}`,
	`"choices":[{"finish_reason":"stop"}],"choices":[{}]}`,
	`"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"x"}}]}}],"choices":[{"delta":{"content":"b"}}]}`,
	`"choices":[{"delta":{"content":"a"}}],"choices":[]}`,
	`"choices":[{"delta":{"content":"a"}}],"usage":null}`,
	"\"choices\":[{\"delta\":{\"content\":\"a\x01\"}}]}",
	`"choices":{}}`, `"choices":"x"}`, `"choices":[1]}`, `"choices":[null]}`,
}

// TestReadChoicesReadsAsTheWalk: every chunk reads the same with
// readChoices as with the walk alone (its error and the Chunk's whole
// state: fields, tool calls, usage, the role's place a template is cut
// at, the head, the template), after the chunk before it, and as Decode
// reads it.
func TestReadChoicesReadsAsTheWalk(t *testing.T) {
	heads := []string{`{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m",`, `{`}
	var fast, walk Chunk
	for _, head := range heads {
		for _, tail := range choicesTails {
			body := head + tail
			if head == "{" && strings.HasPrefix(tail, `"choices"`) {
				body = "{" + tail
			}
			compareWithWalk(t, []byte(body), &fast, &walk)
			var c Chunk
			checkDecodeChunk(t, []byte(body), &c)
		}
	}
}

// FuzzReadChoices is TestReadChoicesReadsAsTheWalk for any rest of a chunk
// after a usual head.
func FuzzReadChoices(f *testing.F) {
	for _, tail := range choicesTails {
		f.Add(tail)
	}
	f.Fuzz(func(t *testing.T, tail string) {
		var fast, walk Chunk
		body := []byte(`{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m",` + tail)
		compareWithWalk(t, body, &fast, &walk)
		compareWithWalk(t, body, &fast, &walk) // with the head kept
	})
}

// compareWithWalk decodes body into fast as DecodeChunk does and into walk
// with readChoices off, and compares the errors and the whole state
// (choicesStep).
func compareWithWalk(t *testing.T, body []byte, fast, walk *Chunk) {
	t.Helper()
	choicesStep(t, "DecodeChunk "+string(body), fast, walk, func(c *Chunk) string {
		return fmt.Sprint(DecodeChunk(body, c))
	})
}
