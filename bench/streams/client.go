package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// streamOnce sends one streaming chat request with a unique prompt (a
// cache miss) and reads the answer to its end. It fails unless the answer
// is a 200 that ends with [DONE]. It returns the stream's duration and
// its time to the first byte of the body.
func streamOnce(c *http.Client, p *proxy, id int, maxTokens int) (time.Duration, time.Duration, error) {
	body := `{"model":"deepseek-chat","stream":true,"messages":[{"role":"user","content":"stream ` + strconv.Itoa(id) + `"}]`
	if maxTokens > 0 {
		body += `,"max_tokens":` + strconv.Itoa(maxTokens)
	}
	body += "}"
	req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+"/v1/chat/completions", bytes.NewBufferString(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.key != "" {
		req.Header.Set("Authorization", "Bearer "+p.key)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var buf [4096]byte
	var tail []byte
	var first time.Duration
	for {
		n, err := resp.Body.Read(buf[:])
		if n > 0 && first == 0 {
			first = time.Since(start)
		}
		if n > 0 {
			tail = append(tail[:0], lastBytes(tail, 16)...)
			tail = append(tail, lastBytes(buf[:n], 32)...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	if !bytes.Contains(tail, []byte("data: [DONE]")) {
		return 0, 0, fmt.Errorf("stream did not end with [DONE]: %q", tail)
	}
	return time.Since(start), first, nil
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
