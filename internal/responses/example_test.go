package responses_test

import (
	"fmt"

	"github.com/dsgate/dsgate/internal/responses"
)

// How an HTTP handler uses the package for POST /v1/responses without
// streaming: translate the request, send the chat body through the
// pipeline, translate the completion back. Streaming works like the
// anthropic package's example, with responses.NewStream.
func Example() {
	chat, info, err := responses.ToChat([]byte(`{"model":"deepseek-v4-flash","store":false,
		"instructions":"Be brief.","input":"Hi"}`))
	if err != nil {
		panic(err) // an *openai.Error: render it as usual
	}
	fmt.Println(string(chat))

	completion := `{"id":"c1","created":1700000000,"model":"deepseek-v4-flash","choices":[{"index":0,
		"message":{"role":"assistant","content":"Hello.","reasoning_content":"Greet back."},"finish_reason":"stop"}],
		"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13,"prompt_cache_hit_tokens":0,
		"completion_tokens_details":{"reasoning_tokens":2}}}`
	resp, err := responses.FromChat([]byte(completion), info)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(resp))
	// Output:
	// {"model":"deepseek-v4-flash","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}
	// {"id":"resp_c1","object":"response","created_at":1700000000,"status":"completed","background":false,"error":null,"incomplete_details":null,"instructions":"Be brief.","max_output_tokens":null,"metadata":{},"model":"deepseek-v4-flash","output":[{"id":"rs_c1","type":"reasoning","summary":[],"content":[{"type":"reasoning_text","text":"Greet back."}],"status":"completed"},{"id":"msg_c1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello.","annotations":[],"logprobs":[]}]}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled","usage":{"input_tokens":9,"input_tokens_details":{"cached_tokens":0},"output_tokens":4,"output_tokens_details":{"reasoning_tokens":2},"total_tokens":13}}
}
