package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/httpapi"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/reqscope"
)

type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// oneError decodes body as exactly one OpenAI error object and nothing
// after it.
func oneError(t *testing.T, body []byte) errorBody {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	var e errorBody
	if err := dec.Decode(&e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an OpenAI error (%v): %q", err, body)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("more after the error object: %q", body)
	}
	return e
}

func code(e errorBody) string {
	if e.Error.Code == nil {
		return ""
	}
	return *e.Error.Code
}

func TestChatAnswersAndAuditsTheCaller(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	status, h, body := a.do(t, "POST", "/v1/chat/completions", keyDev, chatBody)
	if status != 200 || !bytes.Contains(body, []byte(`"chat.completion"`)) || h.Get("X-Dsgate-Upstream") != "up" {
		t.Fatalf("%d %v %s", status, h, body)
	}
	e := a.audit.one(t, "POST /v1/chat/completions")
	if e.Principal != "k_dev" || e.Role != "developer" || e.Model != "deepseek-chat" || e.Status != 200 ||
		e.PromptTokens != 3 || e.CompletionTokens != 1 || e.Upstream != "up" {
		t.Errorf("record %+v", e)
	}
}

func TestStreamWritesEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	status, h, body := a.do(t, "POST", "/v1/chat/completions", keyDev, streamBody)
	if status != 200 || h.Get("Content-Type") != "text/event-stream" || !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
		t.Fatalf("%d %v %q", status, h, body)
	}
	if e := a.audit.one(t, "POST /v1/chat/completions"); e.Principal != "k_dev" || e.Status != 200 {
		t.Errorf("record %+v", e)
	}
}

// A panic before anything is written ends in one JSON 500, an audit
// record and an access-log line.
func TestPanicBeforeHeaders(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	a.backend.complete = func(context.Context, *gateway.Call) (*gateway.Result, error) { panic("boom") }
	status, _, body := a.do(t, "POST", "/v1/chat/completions", keyAdmin, chatBody)
	if status != 500 {
		t.Fatalf("status %d: %s", status, body)
	}
	if e := oneError(t, body); e.Error.Type != "server_error" || strings.Contains(e.Error.Message, "boom") {
		t.Errorf("error %+v", e)
	}
	e := a.audit.one(t, "POST /v1/chat/completions")
	if e.Status != 500 || e.Principal != "k_admin" || e.ErrorType != "server_error" {
		t.Errorf("record %+v", e)
	}
	logged := a.log.String()
	if !strings.Contains(logged, `"msg":"request"`) || !strings.Contains(logged, "panic serving request") {
		t.Errorf("log lacks the access line or the panic: %s", logged)
	}
}

// A panic after a stream started ends it with one SSE error event: no
// JSON object is appended to the event stream, and the call is audited.
func TestPanicMidStream(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	a.backend.stream = func(_ context.Context, _ *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
		sink.Data([]byte(`{"choices":[{"delta":{"content":"hi"}}]}`))
		panic("boom")
	}
	status, h, body := a.do(t, "POST", "/v1/chat/completions", keyAdmin, streamBody)
	if status != 200 || h.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %v %q", status, h, body)
	}
	events := strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n")
	if len(events) != 2 || !strings.HasPrefix(events[1], "data: ") {
		t.Fatalf("want one data event and one error event, got %q", body)
	}
	oneError(t, []byte(strings.TrimPrefix(events[1], "data: ")))
	e := a.audit.one(t, "POST /v1/chat/completions")
	if e.ErrorType != "server_error" || e.Principal != "k_admin" {
		t.Errorf("record %+v", e)
	}
}

// A panic settles the call's rate-limit reservation: a principal limited
// to one call at a time is admitted again after its call panicked.
func TestPanicReleasesTheConcurrencySlot(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	a.backend.complete = func(context.Context, *gateway.Call) (*gateway.Result, error) { panic("boom") }
	if status, _, body := a.do(t, "POST", "/v1/chat/completions", keyOneAtATime, chatBody); status != 500 {
		t.Fatalf("status %d: %s", status, body)
	}
	a.backend.complete = nil
	if status, _, body := a.do(t, "POST", "/v1/chat/completions", keyOneAtATime, chatBody); status != 200 {
		t.Fatalf("after a panic: %d %s", status, body)
	}
}

// A mounted handler that panics is recovered like any other, and its
// record names the caller.
func TestPanicInMountedHandler(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{mounts: map[string]http.Handler{
		"/admin/keys": http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }),
	}})
	status, _, body := a.do(t, "POST", "/admin/keys", keyAdmin, `{}`)
	if status != 500 {
		t.Fatalf("status %d: %s", status, body)
	}
	oneError(t, body)
	if e := a.audit.one(t, "POST /admin/keys"); e.Principal != "k_admin" || e.Role != "admin" || e.Status != 500 {
		t.Errorf("record %+v", e)
	}
}

// A model name that is not UTF-8 (issue 13 item 5) gets one well-formed
// error, and the request is audited and logged even though a metric
// label refuses the name.
func TestNonUTF8ModelName(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{metrics: true})
	a.backend.complete = func(_ context.Context, c *gateway.Call) (*gateway.Result, error) {
		return nil, fmt.Errorf("no route: %w", gateway.ErrModelNotFound)
	}
	body := "{\"model\":\"deepseek-\xff\xfe\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
	status, _, raw := a.do(t, "POST", "/v1/chat/completions", keyAdmin, body)
	if status < 400 {
		t.Fatalf("status %d: %s", status, raw)
	}
	oneError(t, raw)
	a.audit.one(t, "POST /v1/chat/completions")
	if !strings.Contains(a.log.String(), `"msg":"request"`) {
		t.Errorf("no access-log line: %s", a.log.String())
	}
}

// Every route's audit record names its actor, mounted routes included;
// the mounted handler gets the adapter's principal instead of
// authenticating again.
func TestMountedRoutesRecordTheirActor(t *testing.T) {
	t.Parallel()
	var acc *access.Access
	seen := make(chan string, 8)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := access.PrincipalFrom(r.Context()); p != nil {
			seen <- p.ID
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	})
	token := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		w.Write([]byte(`{"error":"invalid_client"}`))
	})
	_ = acc
	a := newAPI(t, apiOptions{mounts: map[string]http.Handler{
		"/admin/keys": ok, "/admin/roles/": ok, "/v1/files": ok, "/v1/batches": ok, "/oauth2/token": token,
	}})
	for _, c := range []struct{ method, path, route string }{
		{"POST", "/admin/keys", "POST /admin/keys"},
		{"PUT", "/admin/roles/ops", "PUT /admin/roles/{name}"},
		{"POST", "/v1/files", "POST /v1/files"},
		{"POST", "/v1/batches", "POST /v1/batches"},
	} {
		if status, _, body := a.do(t, c.method, c.path, keyAdmin, `{}`); status != 200 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, status, body)
		}
		if got := <-seen; got != "k_admin" {
			t.Errorf("%s: handler saw principal %q", c.path, got)
		}
		if e := a.audit.one(t, c.route); e.Principal != "k_admin" || e.Role != "admin" {
			t.Errorf("%s: record %+v", c.route, e)
		}
	}
	req, _ := http.NewRequest("POST", a.url+"/oauth2/token", strings.NewReader("grant_type=client_credentials&client_id=cli_42&client_secret=nope"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if e := a.audit.one(t, "POST /oauth2/token"); e.Principal != "cli_42" || e.Status != 401 {
		t.Errorf("token record %+v", e)
	}
}

// One error shape everywhere: the same refusal reads the same on an API
// route and on a mounted one; unknown paths, plain-text errors of mounted
// handlers and redirects are OpenAI errors too.
func TestOneErrorShape(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{mounts: map[string]http.Handler{
		"/admin/keys":  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", 404) }),
		"/admin/keys/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }),
	}})
	_, _, apiBody := a.do(t, "POST", "/v1/embeddings", keyAnalyst, `{"model":"deepseek-chat","input":"x"}`)
	status, _, mountBody := a.do(t, "POST", "/admin/keys", keyAnalyst, `{}`)
	if status != 403 {
		t.Fatalf("analyst on /admin/keys: %d %s", status, mountBody)
	}
	ea, em := oneError(t, apiBody), oneError(t, mountBody)
	if ea.Error.Type != em.Error.Type || code(ea) != code(em) || em.Error.Type != "permission_error" {
		t.Errorf("two shapes for 403: %s vs %s", apiBody, mountBody)
	}
	status, _, body := a.do(t, "GET", "/admin/keys", keyAdmin, "")
	if e := oneError(t, body); status != 404 || e.Error.Message == "nope\n" {
		t.Errorf("plain-text error kept: %d %s", status, body)
	}
	status, _, body = a.do(t, "GET", "/admin/keys/a/b/c", keyAdmin, "")
	if e := oneError(t, body); status != 404 || code(e) != "unknown_url" {
		t.Errorf("unknown admin path: %d %s", status, body)
	}
	status, _, body = a.do(t, "GET", "/admin/nothing", keyAdmin, "")
	if e := oneError(t, body); status != 404 || code(e) != "unknown_url" {
		t.Errorf("unknown path: %d %s", status, body)
	}
	status, h, body := a.do(t, "GET", "/v1//models", keyAdmin, "")
	if e := oneError(t, body); status/100 != 3 || code(e) != "redirect" || h.Get("Location") == "" {
		t.Errorf("redirect: %d %v %s", status, h, body)
	}
	status, _, body = a.do(t, "POST", "/v1/chat/completions", "", chatBody)
	if e := oneError(t, body); status != 401 || e.Error.Type != "authentication_error" {
		t.Errorf("no key: %d %s", status, body)
	}
}

// Routes that exist but are switched off say how to turn them on.
func TestOffRoutesSaySo(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	for path, want := range map[string]string{
		"/oauth2/token": "OAuth2 is off: set auth.enabled",
		"/admin/keys":   "the admin API is off: set auth.enabled",
		"/v1/batches":   "the Files and Batch APIs are off: set batch.api: true",
		"/admin/cache":  "the response cache is off: set cache.enabled",
	} {
		status, _, body := a.do(t, "POST", path, keyAdmin, "x=1")
		if e := oneError(t, body); status != 404 || e.Error.Message != want {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
}

// /v1/models lists only the models the caller may use, and a model it
// may not use does not exist for it.
func TestModelsListOnlyUsableModels(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	ids := func(key string) []string {
		status, _, body := a.do(t, "GET", "/v1/models", key, "")
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		var l struct{ Data []struct{ ID string } }
		json.Unmarshal(body, &l)
		var out []string
		for _, m := range l.Data {
			out = append(out, m.ID)
		}
		return out
	}
	if got := ids(keyDev); len(got) != 1 || got[0] != "deepseek-chat" {
		t.Errorf("developer limited to deepseek-chat sees %v", got)
	}
	if got := ids(keyAdmin); len(got) != 2 {
		t.Errorf("admin sees %v", got)
	}
	if status, _, body := a.do(t, "GET", "/v1/models/deepseek-reasoner", keyDev, ""); status != 404 {
		t.Errorf("a model the caller may not use: %d %s", status, body)
	}
	if status, _, _ := a.do(t, "GET", "/v1/models/deepseek-chat", keyDev, ""); status != 200 {
		t.Errorf("own model: %d", status)
	}
}

// rawRequest opens a TCP connection and sends a POST's headers declaring
// a body of n bytes, then only a few of them.
func rawRequest(t *testing.T, url, key string, n int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n", n)
	if key != "" {
		head += "Authorization: Bearer " + key + "\r\n"
	}
	if _, err := conn.Write([]byte(head + "\r\n{\"mo")); err != nil {
		t.Fatal(err)
	}
	return conn
}

// Issue 13 item 6: an unauthenticated client that declares a large body
// and trickles it gets its 401 at once, from the headers alone, and the
// connection is closed.
func TestSlowBodyUnauthenticatedIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	// The body may take an hour, and the client never sends the rest of
	// it: an answer and a close that come within the hang guard below
	// came from the headers alone.
	a := newAPI(t, apiOptions{bodyReadTimeout: time.Hour})
	conn := rawRequest(t, a.url, "", 100000)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 401 || !resp.Close {
		t.Fatalf("%d close=%v %s", resp.StatusCode, resp.Close, body)
	}
	oneError(t, body)
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("connection still open: %v", err)
	}
}

// An authenticated client that trickles its body runs into the body's
// own read deadline: 408, not a connection held for minutes.
func TestSlowBodyHitsTheReadDeadline(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{bodyReadTimeout: 300 * time.Millisecond})
	conn := rawRequest(t, a.url, keyAdmin, 100000)
	// The client never sends the rest of its body: only the body's read
	// deadline can produce an answer (the read deadline here guards
	// against a hang and is not measured).
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 408 {
		t.Fatalf("%d: %s", resp.StatusCode, body)
	}
	oneError(t, body)
}

// The body deadline is lifted once the body is read: a stream that runs
// longer than it is not cut.
func TestStreamOutlivesTheBodyDeadline(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{bodyReadTimeout: 100 * time.Millisecond})
	a.backend.stream = func(ctx context.Context, _ *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
		for range 5 {
			sink.Data([]byte(`{"choices":[{"delta":{"content":"hi"}}]}`))
			if f, ok := sink.(gateway.FlushSink); ok {
				f.Flush()
			}
			select {
			case <-ctx.Done():
				return &gateway.Result{Started: true}, ctx.Err()
			case <-time.After(80 * time.Millisecond):
			}
		}
		sink.Data([]byte("[DONE]"))
		return &gateway.Result{Started: true, Upstream: "up"}, nil
	}
	status, _, body := a.do(t, "POST", "/v1/chat/completions", keyAdmin, streamBody)
	if status != 200 || !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
		t.Fatalf("%d %q", status, body)
	}
}

// The answers net/http writes itself, before any handler, are in OpenAI's
// error shape too: 431 for oversized headers, 400 for a malformed request.
func TestServerWrittenErrorsHaveTheShape(t *testing.T) {
	t.Parallel()
	srv := &http.Server{Handler: http.NotFoundHandler(), MaxHeaderBytes: 1 << 10}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(httpapi.ErrorShapeListener(ln))
	t.Cleanup(func() { srv.Close() })
	for _, c := range []struct {
		req  string
		code int
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", 431},
		{"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400},
	} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		conn.Write([]byte(c.req))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != c.code || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%d %v %s", resp.StatusCode, resp.Header, body)
		}
		oneError(t, body)
	}
}

// A mounted handler hands its error to the adapter (Scope.RenderError)
// instead of writing it: one shape, the error table's headers, and the
// record's error type.
func TestMountedHandlerErrorsGoThroughTheAdapter(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{mounts: map[string]http.Handler{
		"/v1/files": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reqscope.From(r.Context()).RenderError(openai.NewError(http.StatusServiceUnavailable, "store down", "store_unavailable"))
		}),
	}})
	status, h, body := a.do(t, "POST", "/v1/files", keyAdmin, `{}`)
	if e := oneError(t, body); status != 503 || code(e) != "store_unavailable" || h.Get("Retry-After") == "" {
		t.Errorf("%d %v %s", status, h, body)
	}
	if e := a.audit.one(t, "POST /v1/files"); e.Status != 503 || e.ErrorType == "" || e.Principal != "k_admin" {
		t.Errorf("record %+v", e)
	}
}

// A whole answer leaves before the request's bookkeeping: the client has
// it while the audit record (frame's deferred work, with the metrics and
// the access line) is still being written. Before, every answer waited
// for that work, and at one request at a time the gateway's added latency
// was its sum.
func TestAnswerLeavesBeforeTheRecord(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ path, body string }{
		{"/v1/chat/completions", chatBody},
		{"/v1/messages", messagesBody},
		{"/v1/responses", `{"model":"deepseek-chat","input":"hi","store":false}`},
	} {
		t.Run(strings.TrimPrefix(c.path, "/v1/"), func(t *testing.T) {
			a := newAPI(t, apiOptions{})
			a.audit.hold = make(chan struct{})
			defer close(a.audit.hold)
			got := make(chan string, 1)
			go func() {
				req, _ := http.NewRequest("POST", a.url+c.path, strings.NewReader(c.body))
				req.Header.Set("Authorization", "Bearer "+keyAdmin)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					got <- err.Error()
					return
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK || err != nil || !json.Valid(body) {
					got <- fmt.Sprintf("status %d, %v: %s", resp.StatusCode, err, body)
					return
				}
				got <- ""
			}()
			select {
			case msg := <-got:
				if msg != "" {
					t.Fatal(msg)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no answer while the audit record was held: the answer waits for the request's bookkeeping")
			}
		})
	}
}

// The answer leaves early, but not before the key's concurrency slot is
// free: a key allowed one call at a time can send its next request the
// moment it has an answer, even on a new connection. The audit record is
// held meanwhile, so each request's handler is still running when the
// next one comes: a slot released any later than the answer would refuse
// the second request every time.
func TestOneAtATimeBackToBack(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	a.audit.hold = make(chan struct{})
	defer close(a.audit.hold)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 20 {
		req, _ := http.NewRequest("POST", a.url+"/v1/chat/completions", strings.NewReader(chatBody))
		req.Header.Set("Authorization", "Bearer "+keyOneAtATime)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
}

// A client still sending a body over the limit gets its 413, not a
// connection reset. The answer leaves before the body is read; closing
// the connection at once with the body's bytes unread made the kernel
// reset it, and the client, still writing, lost the answer (16 of 20
// requests of 4 MB, and a 70 KB one in the suite, got "connection reset
// by peer"). Over the limit by less than 256 KiB, net/http discards the
// rest for a moment first; by more, it half-closes and waits before it
// closes.
func TestTooLargeBodyGetsItsAnswer(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{}) // max body 1 MiB
	for _, size := range []int{1<<20 + 100<<10, 4 << 20} {
		body := append([]byte(`{"model":"deepseek-chat","messages":[{"role":"user","content":"`), bytes.Repeat([]byte("x"), size)...)
		body = append(body, `"}]}`...)
		for i := range 8 {
			req, _ := http.NewRequest("POST", a.url+"/v1/chat/completions", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+keyAdmin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%d bytes, request %d: %v", len(body), i, err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d bytes: %d %s", len(body), resp.StatusCode, got)
			}
		}
	}
}
