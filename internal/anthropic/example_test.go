package anthropic_test

import (
	"fmt"
	"os"

	"github.com/dsgate/dsgate/internal/anthropic"
	"github.com/dsgate/dsgate/internal/chatwire"
)

// How an HTTP handler uses the package for POST /v1/messages with
// stream: true: translate the request, send the chat body through the
// pipeline, feed the upstream's chunks to a Stream and write its events.
// (Errors before the first event are written as e.JSON() with e.Status.)
func Example_stream() {
	chat, info, err := anthropic.ToChat([]byte(`{"model":"deepseek-v4-flash","max_tokens":64,"stream":true,
		"messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(chat))

	var out []byte // the response body: text/event-stream
	emit := func(event string, data []byte) error {
		out = chatwire.AppendEvent(out, event, data)
		return nil
	}
	s := anthropic.NewStream(info)
	for _, chunk := range []string{ // what the upstream streamed (data payloads, [DONE] dropped)
		`{"id":"c1","model":"deepseek-v4-flash","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"}}]}`,
		`{"id":"c1","model":"deepseek-v4-flash","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"prompt_cache_hit_tokens":0}}`,
	} {
		if err := s.Chunk([]byte(chunk), emit); err != nil {
			panic(err)
		}
		if err := s.Flush(emit); err != nil { // each chunk flushed as it comes
			panic(err)
		}
	}
	if err := s.Finish(emit); err != nil {
		panic(err)
	}
	os.Stdout.Write(out)
	// Output:
	// {"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Hi"}],"max_tokens":64,"stream":true,"stream_options":{"include_usage":true}}
	// event: message_start
	// data: {"type":"message_start","message":{"id":"msg_c1","type":"message","role":"assistant","model":"deepseek-v4-flash","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}
	//
	// event: ping
	// data: {"type":"ping"}
	//
	// event: content_block_start
	// data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}
	//
	// event: content_block_delta
	// data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}
	//
	// event: content_block_stop
	// data: {"type":"content_block_stop","index":0}
	//
	// event: message_delta
	// data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":5,"cache_read_input_tokens":0,"output_tokens":1}}
	//
	// event: message_stop
	// data: {"type":"message_stop"}
}
