package chatwire

import (
	"strings"
	"testing"
)

// Hostile trial of the template kept from a stream's first chunk without
// its delta's role (readRole, Template.SetCut): a first chunk with a role
// in odd places, then chunks that are, or look like, that chunk without
// the role, each decoded into one reused Chunk and compared with Decode
// (checkDecodeChunk).

// roleChunksHostile3 are first chunks: ROLE stands for the role member
// (with what follows it), TEXT for the text.
var roleChunksHostile3 = []string{
	`{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{ROLE"content":TEXT},"finish_reason":null}]}`,
	`{"id":"c1","choices":[{"index":0,"message":{ROLE"content":TEXT},"finish_reason":"stop"}]}`,
	`{"choices":[{"message":{ROLE"x":1},"delta":{"content":TEXT}}]}`,
	`{"choices":[{"delta":{ROLE"x":1},"delta":{"content":TEXT}}]}`,
	`{"choices":[{"delta":{ROLE"x":1},"message":{"content":TEXT}}]}`,
	`{"choices":[{"delta":{ROLE"content":"q"}}],"choices":[{"delta":{ROLE"content":TEXT}}]}`,
	`{"choices":[{"delta":{ROLE"x":1}}],"choices":[{"delta":{"content":TEXT}}]}`,
	`{"choices":[{"delta":{ROLE"content":TEXT}}],"choices":[]}`,
	`{"choices":[{"delta":{ROLE"content":TEXT}}],"choices":[{"delta":{"role":"x"}}]}`,
	`{"choices":[{"delta":{"content":TEXT}},{"delta":{ROLE"content":""}}]}`,
	`{"choices":[{"delta":{ROLE"content":TEXT}},{"delta":{ROLE"content":""}}]}`,
	`{"choices":[{"delta":{ROLE"tool_calls":[{"index":0,"id":"t","type":"function","function":{"name":"f","arguments":TEXT}}]}}]}`,
	`{"choices":[{"delta":{ROLE"tool_calls":[{"index":0,"function":{"arguments":TEXT}}],"content":null}}]}`,
	`{"choices":[{"delta":{ROLE"reasoning_content":TEXT,"content":null}}]}`,
	`{"choices":[{"delta":{ROLE"refusal":TEXT},"finish_reason":"stop"}],"id":"late","created":9}`,
	`{"choices":[{"delta":{"content":TEXT,ROLE"x":1}}]}`,
	`{"choices":[{"delta":{"content":TEXT},"delta":{ROLE"y":2}}]}`,
	`{"choices":[{"role":"x","delta":{ROLE"content":TEXT}}]}`,
	`{"choices":[{"delta":{ROLE"content":TEXT}}],"usage":{"total_tokens":1}}`,
	`{"choices":[{"delta":{ROLE"content":TEXT}}],"usage":null}`,
	`{"choices":[{"delta":{ROLE"delta":{"role":"x","content":"y"},"content":TEXT}}]}`,
	`{"id":"c1","choices":[{"index":0,"delta":{ROLE"content":TEXT,"role":"assistant"},"finish_reason":null}]}`,
	`{"choices":[{"delta":{"x":1,ROLE"content":TEXT}}]}`,
	`{"choices":[{"delta":{ROLE"content":TEXT}}],"id":"c1","choices":[{"delta":{ROLE"content":TEXT}}]}`,
}

// rolesHostile3 are role members, what follows them included ("" is the
// chunk without one).
var rolesHostile3 = []string{
	``,
	`"role":"assistant",`,
	`"role" : "assistant" , `,
	"\"role\":\"assistant\"\n,\n\t",
	`"role":"assistant" ,`,
	`"role":null,`,
	`"role":{"a":[1,{"content":"z"}]},`,
	`"role":["assistant","content"],`,
	`"role":7,`,
	`"role":"",`,
	`"role":"\u0061ssistant",`,
	`"r\u006fle":"assistant",`,
	`"Role":"assistant",`,
	`"role":"assistant","role":"user",`,
	`"role":"assistant","role":null,`,
	`"role":null,"role":"assistant",`,
	`"role":"assistant","x":2,`,
	`"x":2,"role":"assistant",`,
	`"role":"assistant","content":"zz",`,
	`"role":"assistant","tool_calls":null,`,
	`"role":"assistant","tool_calls":[],`,
}

// textsHostile3 are the texts of the chunks after the first.
var textsHostile3 = []string{`"b"`, `""`, `"caf\u00e9 \"x\"\n"`, `null`, `7`, `{}`, `"a","role":"user"`, `"a","content":"b"`, `"a"}`, `"x\q"`, `"`, "\"\x01\"", `"a" `, ` "a"`}

func fillHostile3(tmpl, role, text string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tmpl, "ROLE", role), "TEXT", text)
}

func TestDecodeChunkRoleTemplateHostile3(t *testing.T) {
	for _, tmpl := range roleChunksHostile3 {
		for _, role := range rolesHostile3 {
			first := fillHostile3(tmpl, role, `""`)
			for k, role2 := range []string{``, role, `"role":"assistant",`} {
				for _, text := range textsHostile3[k*3 : k*3+8] {
					var c Chunk
					checkDecodeChunk(t, []byte(first), &c)
					checkDecodeChunk(t, []byte(fillHostile3(tmpl, role2, text)), &c)
					// and a third, from the template the second left
					checkDecodeChunk(t, []byte(fillHostile3(tmpl, ``, `"c"`)), &c)
				}
			}
		}
	}
}

// TestDecodeChunkRoleStreamHostile3 decodes whole streams into one Chunk:
// a first chunk with a role, token chunks, a chunk of another stream
// shape, a role again, a usage chunk.
func TestDecodeChunkRoleStreamHostile3(t *testing.T) {
	const head = `{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m",`
	for _, seq := range [][]string{
		{
			head + `"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
			head + `"choices":[{"index":0,"delta":{"content":"The"},"finish_reason":null}]}`,
			head + `"choices":[{"index":0,"delta":{"content":" cat"},"finish_reason":null}]}`,
			head + `"choices":[{"index":0,"delta":{"role":"assistant","content":"again"},"finish_reason":null}]}`,
			head + `"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}`,
			head + `"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
			head + `"choices":[{"index":0,"delta":{"content":"y"},"finish_reason":null}]}`,
			head + `"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
			head + `"choices":[{"index":0,"delta":{"content":"z"},"finish_reason":null}]}`,
		},
		{
			`{"choices":[{"delta":{"role":"assistant","reasoning_content":""}}]}`,
			`{"choices":[{"delta":{"reasoning_content":"t"}}]}`,
			`{"choices":[{"delta":{"content":"t"}}]}`,
			`{"choices":[{"delta":{"reasoning_content":"t"}}]}`,
			`{"choices":[{"delta":{"role":"assistant","reasoning_content":"u"}}],"id":"x"}`,
			`{"choices":[{"delta":{"reasoning_content":"v"}}],"id":"x"}`,
			`{"choices":[{"delta":{"reasoning_content":"v"}}],"id":"y"}`,
		},
		{
			`{"choices":[{"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":""}}]}}]}`,
			`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{\"a\""}}]}}]}`,
			`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}`,
			`{"choices":[{"delta":{"role":"assistant","tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}`,
			`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"]"}}]}}]}`,
		},
		{
			`{"choices":[{"delta":{"role":"assistant","content":""}}],"choices":[{"delta":{"role":"assistant","content":"a"}}]}`,
			`{"choices":[{"delta":{"role":"assistant","content":""}}],"choices":[{"delta":{"content":"b"}}]}`,
			`{"choices":[{"delta":{"content":""}}],"choices":[{"delta":{"content":"c"}}]}`,
			`{"choices":[{"delta":{"role":"assistant","content":""}}],"choices":[{"delta":{"content":"d"}}]}`,
		},
		{
			` {"choices":[{"delta":{"role":"assistant","content":""}}]} `,
			"\n{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n",
			`{"choices":[{"delta":{"content":"a"}}]}x`,
			`{"choices":[{"delta":{"content":"a"}}]`,
			`{"choices":[{"delta":{"content":"a"}}]}`,
		},
		{
			`{"choices":[{"delta":{"role":"assistant","content":""}}]}`,
			`{"choices":[{"delta":{"content":"a"`,
			`{"choices":[{"delta":{"content":"a"}}]}`,
			`{"choices":[{"delta":{"role":"assistant","content":"a"},"x":[}]}`,
			`{"choices":[{"delta":{"content":"b"}}]}`,
		},
	} {
		var c Chunk
		for _, b := range seq {
			checkDecodeChunk(t, []byte(b), &c)
		}
	}
}
