package chatwire

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// chunkState is everything of a Chunk a later call can see: the fields,
// and the unexported state (role, head, template, last, mark).
type chunkState struct {
	ID, Model, FinishReason, Content, ReasoningContent, Refusal string
	Created                                                     int64
	ToolCalls                                                   []callState
	Usage                                                       string
	Role                                                        [2]int
	Head                                                        string
	HeadID, HeadModel                                           string
	HeadCreated                                                 int64
	Tmpl                                                        string
	Last                                                        string
	Mark                                                        string
}

type callState struct {
	Index          int
	ID, Name, Args string
	ArgsNil        bool
}

func stateOf(c *Chunk) chunkState {
	s := chunkState{
		ID: c.ID, Model: c.Model, FinishReason: c.FinishReason,
		Content: fmt.Sprintf("%q/%v", c.Content, c.Content == nil), ReasoningContent: fmt.Sprintf("%q/%v", c.ReasoningContent, c.ReasoningContent == nil),
		Refusal: fmt.Sprintf("%q/%v", c.Refusal, c.Refusal == nil), Created: c.Created, Role: c.role,
		Head: string(c.head.bytes), HeadID: c.head.id, HeadModel: c.head.model, HeadCreated: c.head.created,
		Tmpl: fmt.Sprintf("%+v", c.tmpl), Last: fmt.Sprintf("%q/%v", c.last, c.last == nil), Mark: fmt.Sprintf("%+v", c.mark),
	}
	for _, tc := range c.ToolCalls {
		s.ToolCalls = append(s.ToolCalls, callState{tc.Index, tc.ID, tc.Name, string(tc.Arguments), tc.Arguments == nil})
	}
	if c.Usage != nil {
		s.Usage = fmt.Sprintf("%+v", *c.Usage)
	}
	return s
}

// step runs one operation on both chunks, fast with readChoices on and
// walk with it off, and compares the results and the whole state.
func choicesStep(t *testing.T, what string, fast, walk *Chunk, op func(c *Chunk) string) {
	t.Helper()
	rf := op(fast)
	readChoicesFast = false
	rw := op(walk)
	readChoicesFast = true
	if rf != rw {
		t.Fatalf("%s: readChoices %s, the walk %s", what, rf, rw)
	}
	sf, sw := stateOf(fast), stateOf(walk)
	if !reflect.DeepEqual(sf, sw) {
		t.Fatalf("%s: state differs:\nfast %+v\nwalk %+v", what, sf, sw)
	}
}

// choicesSequence decodes bodies in order into one Chunk each way, with
// DecodeCompletion, Mark and FromMark in between as the spec bytes say.
func choicesSequence(t *testing.T, bodies []string, spec []byte, texts []string) {
	var fast, walk Chunk
	next := func() byte {
		if len(spec) == 0 {
			return 0
		}
		b := spec[0]
		spec = spec[1:]
		return b
	}
	for i, body := range bodies {
		doc := []byte(body)
		op := next()
		if op%5 == 4 {
			choicesStep(t, "DecodeCompletion "+body, &fast, &walk, func(c *Chunk) string {
				return fmt.Sprint(DecodeCompletion(doc, c))
			})
			sameAsDecode(t, "DecodeCompletion", doc, &fast, DecodeCompletion(doc, &fast))
			continue
		}
		choicesStep(t, "DecodeChunk "+body, &fast, &walk, func(c *Chunk) string {
			return fmt.Sprint(DecodeChunk(doc, c))
		})
		// The fast path's result as Decode reads it (a fresh Chunk too).
		var fresh Chunk
		sameAsDecode(t, "DecodeChunk", doc, &fresh, DecodeChunk(doc, &fresh))
		if op%5 == 1 || op%5 == 2 {
			// Mark at the chunk's text, or at a position from spec.
			at := int(next())
			if t := fast.slotText(fast.tmpl.slot); op%5 == 1 && len(t) > 0 {
				at = cap(doc) - cap(t)
			}
			choicesStep(t, fmt.Sprintf("Mark(%s, %d)", body, at), &fast, &walk, func(c *Chunk) string {
				return fmt.Sprint(c.Mark(doc, at))
			})
		}
		if op%5 == 3 || op%5 == 1 {
			text := `"z"`
			if len(texts) > 0 {
				text = texts[i%len(texts)]
			}
			choicesStep(t, "FromMark "+text, &fast, &walk, func(c *Chunk) string {
				return fmt.Sprint(c.FromMark(Token(text)))
			})
		}
	}
}

const usualHead = `{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m",`

// FuzzReadChoicesSequence decodes head+tail for four tails into one
// Chunk each way (readChoices on and off), with DecodeCompletion, Mark and
// FromMark in between, comparing every result and the whole state.
func FuzzReadChoicesSequence(f *testing.F) {
	for i, tail := range choicesTails {
		f.Add(usualHead, tail, choicesTails[(i+1)%len(choicesTails)], `"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":null}]}`, tail, []byte{byte(i), 1, 0, 1, 2, 3, 4})
	}
	f.Add(usualHead, `"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
		`"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`,
		`"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":null}]}`,
		`"choices":[{"index":0,"delta":{"role":"assistant","content":"c"},"finish_reason":null}]}`, []byte{0, 1, 1, 1, 3})
	f.Fuzz(func(t *testing.T, head, t0, t1, t2, t3 string, spec []byte) {
		bodies := []string{head + t0, head + t1, head + t2, head + t3}
		if len(spec) > 0 && spec[0]&0x80 != 0 {
			bodies[2] = "{" + t2 // no head
		}
		texts := []string{`"q"`, `""`, `"\u00e9"`, `"a\"b"`}
		choicesSequence(t, bodies, spec, texts)
	})
}

// TestReadChoicesSequence runs choicesTails through choicesSequence, each
// after itself and before two others, under four heads (the fuzz target
// tries any order).
func TestReadChoicesSequence(t *testing.T) {
	heads := []string{usualHead, `{`, `{"id":"c1",`, ` { "id" : "c1" , `}
	n := len(choicesTails)
	for _, head := range heads {
		for i, a := range choicesTails {
			for _, b := range []string{a, choicesTails[(i+1)%n], choicesTails[(i+7)%n]} {
				bodies := []string{head + a, head + b, head + a}
				for _, op := range []byte{0, 1, 2, 3, 4} {
					choicesSequence(t, bodies, []byte{op, 1, op, 0, op, 1}, []string{`"q"`})
				}
			}
		}
	}
}

// Nesting at the limit inside the choice, the delta, a tool call, and
// behind a choice that is read the usual way.
func TestReadChoicesDepth(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	var bodies []string
	for d := 9990; d <= 10000; d++ {
		for _, f := range []string{
			`"choices":[{"x":%s,"delta":{"content":"a"}}]}`,
			`"choices":[{"delta":{"x":%s,"content":"a"}}]}`,
			`"choices":[{"delta":{"role":%s,"content":"a"}}]}`,
			`"choices":[{"delta":{"content":%s}}]}`,
			`"choices":[{"finish_reason":%s}]}`,
			`"choices":[{"delta":{"tool_calls":[{"function":{"arguments":%s}}]}}]}`,
			`"choices":[{"delta":{"tool_calls":[{"x":%s}]}}]}`,
			`"choices":[{"delta":{"tool_calls":[%s]}}]}`,
			`"choices":[{"delta":{"content":"a"}},%s]}`,
			`"x":%s,"choices":[{"delta":{"content":"a"}}]}`,
		} {
			bodies = append(bodies, fmt.Sprintf(f, nest(d)))
		}
	}
	for _, head := range []string{usualHead, "{"} {
		for _, tail := range bodies {
			body := []byte(head + tail)
			var fast, walk Chunk
			compareWithWalk(t, body, &fast, &walk)
			var c Chunk
			checkDecodeChunk(t, body, &c)
			var a, b Chunk
			errA := DecodeCompletion(body, &a)
			readChoicesFast = false
			errB := DecodeCompletion(body, &b)
			readChoicesFast = true
			if errA != errB {
				t.Fatalf("DecodeCompletion %.80s: %v vs %v", body, errA, errB)
			}
		}
	}
}

// secondChoicesTails: a second choices array after a first that set each field
// (the walk's first choice empties them all), and shapes around it.
var secondChoicesTails = []string{
	`"choices":[{"finish_reason":"stop"}],"choices":[{}]}`,
	`"choices":[{"finish_reason":"stop"}],"choices":[{"delta":{"content":"b"}}]}`,
	`"choices":[{"delta":{"reasoning_content":"r"}}],"choices":[{"delta":{"content":"b"}}]}`,
	`"choices":[{"delta":{"refusal":"r"}}],"choices":[{"delta":{}}]}`,
	`"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"x"}}]}}],"choices":[{"delta":{"content":"b"}}]}`,
	`"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"x"}}]}}],"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":"y"}}]}}]}`,
	`"choices":[{"finish_reason":"stop"}],"choices":[]}`,
	`"choices":[{"finish_reason":"stop"}],"choices":[ ]}`,
	`"choices":[{"finish_reason":"stop"}],"choices":[ {}]}`,
	`"choices":[{"finish_reason":"stop"}],"choices":[{} ]}`,
	`"choices":[{"finish_reason":"stop"}],"choices":[{},{"finish_reason":"length"}]}`,
	`"choices":[{"finish_reason":"stop"}],"choices":null}`,
	`"choices":[{"delta":{"role":"assistant","content":"a"}}],"choices":[{"delta":{"content":"b"}}]}`,
	`"choices":[{"delta":{"content":"b"}}],"choices":[{"delta":{"role":"assistant","content":"a"}}]}`,
	`"choices":[{"delta":{"role":"assistant","content":"a"}}],"choices":[{"delta":{"role":"assistant","content":"b"} }]}`,
	`"choices":[{"delta":{"role":"assistant","content":"a"}}],"choices":[{"delta":{"role":"assistant", "content":"b"}}]}`,
	`"choices":[{"delta":{"role":"assistant" ,"content":"b"}}]}`,
	`"choices":[{"delta":{"role":"assistant","content":"b","role":"user"}}]}`,
	`"choices":[{"delta":{"role":"assistant","content":"b"},"delta":{"role":"x","refusal":"r"}}]}`,
	`"choices":[{"delta":{"role":"assistant","content":"b"},"message":{"content":"c"}}]}`,
	`"choices":[{"delta":{"content":"b"},"delta":null}]}`,
	`"choices":[{"delta":{"content":"b"},"delta":{}}]}`,
	`"choices":[{"delta":{"content":"b"},"delta":5}]}`,
	`"choices":[{"delta":{"tool_calls":[5]}}]}`,
	`"choices":[{"delta":{"tool_calls":[{"function":5}]}}]}`,
	`"choices":[{"delta":{"tool_calls":[{"function":{"arguments":5}}]}}]}`,
	`"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"a"}},]}}]}`,
	`"choices":[{"delta":{"tool_calls":[ ]}}]}`,
	`"choices":[{"delta":{"tool_calls":null,"content":"x"}}]}`,
	`"choices":[{"delta":{"content":"x"}}],"choices":[{"delta":{"tool_calls":[{"function":5}]}}]}`,
	`"choices":[{"delta":{"content":"x"}}],"choices":[{"delta":{"content":"x"}}`,
	`"choices":[{"delta":{"content":"x"}}]`,
	`"choices":[{"delta":{"content":"x"}}]]}`,
	`"choices":[{"delta":{"content":"x"}}}]}`,
	`"choices":[{"delta":{"content":"x"}]}`,
	`"choices":[{"delta":{"content":"x"}}],}`,
	`"choices":[{"":1,"delta":{"":2,"content":"x"}}]}`,
	`"choices":[{"delta":{"content":"x"},"\u0000":1}]}`,
	"\"choices\":[{\"delta\":{\"content\":\"x\",\"\x7f\":1}}]}",
	"\"choices\":[{\"delta\":{\"content\":\"x\",\"\xff\":1}}]}",
	"\"choices\":[{\"delta\":{\"content\":\"x\",\"a\x1f\":1}}]}",
	`"choices":[{"delta":{"content":"x","refusal":nul}}]}`,
	`"choices":[{"delta":{"content":"x","refusal":nulll}}]}`,
	`"choices":[{"delta":{"content":"x"},"finish_reason":nul}]}`,
	`"choices":[{"delta":nul}]}`,
	`"choices":[{"delta":{"content":-0.5e+3,"refusal":"r"}}]}`,
	`"choices":[{"finish_reason":"stop\u0000"}]}`,
	`"choices":[{"finish_reason":["stop"]}]}`,
	`"choices":[{"finish_reason":{"a":"stop"}}]}`,
	`"choices":[{"finish_reason":"a","finish_reason":"b"}]}`,
}

func TestReadChoicesAfterAChoice(t *testing.T) {
	for _, head := range []string{usualHead, "{", `{"id":"c1",`} {
		for _, tail := range secondChoicesTails {
			body := []byte(head + tail)
			var fast, walk Chunk
			compareWithWalk(t, body, &fast, &walk)
			compareWithWalk(t, body, &fast, &walk)
			var c Chunk
			checkDecodeChunk(t, body, &c)
			for _, op := range []byte{0, 1, 2, 3, 4} {
				choicesSequence(t, []string{head + tail, head + `"choices":[{"delta":{"content":"q"}}]}`, head + tail}, []byte{op, 1, op, 0, op, 1}, nil)
			}
		}
	}
}
