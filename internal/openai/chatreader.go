package openai

import "fmt"

// ChatReader reads a chat completions body as a translator writes it,
// member by member (chatwire.Request.Encode), with the checks Parse makes:
// the pipeline takes the request from the translator that built the body
// instead of reading it back (on a coding agent's 77 KB conversation that
// reading was 27 µs). Members come in the body's order, so the first fault
// is the one Parse would name; the fuzz targets of both translators hold
// the two to the same answer.
type ChatReader struct {
	r   Request
	p   parser
	err error // the first fault
}

// NewChatReader starts reading a chat completions body.
func NewChatReader() *ChatReader {
	c := &ChatReader{r: Request{Endpoint: EndpointChat, N: 1}}
	c.p.r = &c.r
	return c
}

// Member reads a top-level member other than messages: key and its value
// as written (valid JSON).
func (c *ChatReader) Member(key string, v []byte) {
	if c.err == nil {
		c.err = c.p.member(key, v)
	}
}

// Message reads the next message: its role and the raw values of its
// content and tool_calls as written (nil when absent).
func (c *ChatReader) Message(role string, content, toolCalls []byte) {
	if c.err == nil {
		c.err = c.p.read(c.p.messages, role, content, toolCalls)
	}
}

// Request is the request read, or the first fault as Parse names it.
func (c *ChatReader) Request() (*Request, error) {
	if c.err == nil {
		c.err = c.p.finish()
	}
	if c.err != nil {
		return nil, c.err
	}
	return &c.r, nil
}

// Parsed is a body as Parse reads it: the request, or the fault Parse
// refuses it for. The zero value says the body was not read.
type Parsed struct {
	Req *Request
	Err error
}

// CheckParsed reports how p differs from what Parse reads from the chat
// completions body: the same request, or a fault with the same message.
// The translators' fuzz targets hold chatwire's Encode to it.
func CheckParsed(body []byte, p Parsed) error {
	r, err := Parse(EndpointChat, body)
	switch {
	case (err == nil) != (p.Err == nil):
		return fmt.Errorf("read as it was written: %+v, %v; Parse: %+v, %v", p.Req, p.Err, r, err)
	case err != nil && err.Error() != p.Err.Error():
		return fmt.Errorf("read as it was written: %v; Parse: %v", p.Err, err)
	case err == nil && *r != *p.Req:
		return fmt.Errorf("read as it was written: %+v; Parse: %+v", *p.Req, *r)
	}
	return nil
}
