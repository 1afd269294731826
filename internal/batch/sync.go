package batch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// SyncOptions configure the synchronous batch endpoint.
type SyncOptions struct {
	Exec *Executor
	// MaxItems bounds the requests of one batch. Default 100.
	MaxItems int
	// MaxBodyBytes bounds the batch body. Default 8 MiB.
	MaxBodyBytes int64
	// Concurrency bounds the items of one batch run at once. Default 8.
	Concurrency int
}

// Sync serves POST /v1/batch. The body is
//
//	{"model": "deepseek-chat", "requests": [{"id": "req_1", "prompt": "...", "max_tokens": 200}, ...]}
//
// Each request is a chat completion: "prompt" is shorthand for one user
// message, or "messages" is given in full; any other chat parameter
// (temperature, max_tokens, model, ...) applies to that item. The answer
// lists every item in input order:
//
//	{"object": "batch.result", "results": [{"index": 0, "id": "req_1", "status": 200, "response": {...chat.completion}, "error": null}, ...],
//	 "usage": {...sum...}}
//
// An item's failure (a bad parameter, a model it may not use, its rate
// limit, an upstream error) is its own error; the batch as a whole fails
// only when it cannot be read or exceeds the limits.
type Sync struct{ o SyncOptions }

// NewSync returns the handler.
func NewSync(o SyncOptions) *Sync {
	if o.MaxItems <= 0 {
		o.MaxItems = 100
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 8 << 20
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	return &Sync{o: o}
}

type syncResult struct {
	Index    int             `json:"index"`
	ID       string          `json:"id"`
	Status   int             `json:"status"`
	Response json.RawMessage `json:"response"`
	Error    *openai.ErrorObject
}

func (r syncResult) MarshalJSON() ([]byte, error) {
	type plain struct {
		Index    int                 `json:"index"`
		ID       string              `json:"id"`
		Status   int                 `json:"status"`
		Response json.RawMessage     `json:"response"`
		Error    *openai.ErrorObject `json:"error"`
	}
	p := plain(r)
	if p.Response == nil {
		p.Response = json.RawMessage("null")
	}
	return json.Marshal(p)
}

func (s *Sync) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		renderError(w, r, openai.NewError(http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path, "method_not_allowed"))
		return
	}
	x := s.o.Exec
	p, err := x.access().AuthenticateHTTP(r)
	if err == nil {
		err = x.access().Authorize(p, auth.ResourceTextGeneration, auth.ActionRead, "")
	}
	if err != nil {
		renderError(w, r, err)
		return
	}
	items, err := s.decode(w, r)
	if err != nil {
		renderError(w, r, err)
		return
	}
	sc := reqscope.From(r.Context())
	// The items' usage is recorded once the answer holding them is
	// written: a batch never delivered is never charged.
	ctx, held := access.HoldUsage(r.Context())
	r = r.WithContext(ctx)
	results := make([]syncResult, len(items))
	sem := make(chan struct{}, s.o.Concurrency)
	done := make(chan struct{}, len(items))
	for i, it := range items {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; done <- struct{}{} }()
			results[i] = s.run(r, p, sc.RequestID+"-"+strconv.Itoa(i), i, it)
		}()
	}
	for range items {
		<-done
	}
	var total openai.Usage
	for _, res := range results {
		if u, ok := openai.UsageOf(res.Response); ok {
			total.PromptTokens += u.PromptTokens
			total.CompletionTokens += u.CompletionTokens
			total.TotalTokens += u.TotalTokens
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "batch.result", "results": results, "usage": total})
	// Written means handed to the connection, not held in net/http's
	// buffer until the handler returns: a process killed in between would
	// have charged an answer nobody got (TestUsageSurvivesSIGKILL). A
	// failed flush is a client gone before its answer.
	if err := http.NewResponseController(w).Flush(); err == nil || errors.Is(err, http.ErrNotSupported) {
		held.Release()
	}
}

// syncItemRoute names the items of POST /v1/batch in metrics and audit.
const syncItemRoute = "POST /v1/batch#item"

// syncItem is one request of a synchronous batch, as the client sent it.
type syncItem struct {
	id   string
	body []byte // the chat body, or nil when err is set
	err  error
}

// decode reads and checks the batch and builds each item's chat body.
func (s *Sync) decode(w http.ResponseWriter, r *http.Request) ([]syncItem, error) {
	if r.ContentLength > s.o.MaxBodyBytes {
		return nil, tooLarge(s.o.MaxBodyBytes)
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(s.o.MaxBodyBytes)
		}
		return nil, openai.InvalidRequest("", "reading request body: "+err.Error())
	}
	var b struct {
		Model    string                       `json:"model"`
		Requests []map[string]json.RawMessage `json:"requests"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, openai.InvalidRequest("", "request body must be {\"requests\": [...]}: "+err.Error())
	}
	if len(b.Requests) == 0 {
		return nil, openai.InvalidRequest("requests", "requests must be a non-empty array")
	}
	if len(b.Requests) > s.o.MaxItems {
		e := openai.InvalidRequest("requests", fmt.Sprintf("a batch holds at most %d requests, got %d", s.o.MaxItems, len(b.Requests)))
		e.Code = "too_many_requests_in_batch"
		return nil, e
	}
	items := make([]syncItem, len(b.Requests))
	for i, fields := range b.Requests {
		items[i] = itemBody(i, fields, b.Model)
	}
	return items, nil
}

// itemBody turns one seed-style request into a chat completion body.
func itemBody(i int, fields map[string]json.RawMessage, model string) syncItem {
	it := syncItem{id: strconv.Itoa(i)}
	if raw, ok := fields["id"]; ok {
		var id string
		if json.Unmarshal(raw, &id) != nil || id == "" {
			it.err = openai.InvalidRequest(fmt.Sprintf("requests[%d].id", i), "id must be a non-empty string")
			return it
		}
		it.id = id
	}
	delete(fields, "id")
	prompt, hasPrompt := fields["prompt"]
	_, hasMessages := fields["messages"]
	switch {
	case hasPrompt && hasMessages:
		it.err = openai.InvalidRequest(fmt.Sprintf("requests[%d]", i), "give either prompt or messages, not both")
		return it
	case hasPrompt:
		var text string
		if json.Unmarshal(prompt, &text) != nil {
			it.err = openai.InvalidRequest(fmt.Sprintf("requests[%d].prompt", i), "prompt must be a string")
			return it
		}
		msgs, _ := json.Marshal([]map[string]string{{"role": "user", "content": text}})
		fields["messages"] = msgs
		delete(fields, "prompt")
	case !hasMessages:
		it.err = openai.InvalidRequest(fmt.Sprintf("requests[%d]", i), "each request needs prompt or messages")
		return it
	}
	if _, ok := fields["model"]; !ok && model != "" {
		fields["model"], _ = json.Marshal(model)
	}
	it.body, _ = json.Marshal(fields) // raw messages always marshal
	return it
}

func (s *Sync) run(r *http.Request, p *auth.Principal, requestID string, i int, it syncItem) syncResult {
	res := syncResult{Index: i, ID: it.id}
	var out Outcome
	if it.err != nil {
		out = s.o.Exec.Refuse(r.Context(), p, it.err, requestID, syncItemRoute, r.RemoteAddr)
	} else {
		out = s.o.Exec.Do(r.Context(), p, openai.EndpointChat, it.body, requestID, syncItemRoute, r.RemoteAddr, r.Header)
	}
	res.Status = out.Status
	if out.Err != nil {
		obj := out.Err.Body().Error
		res.Error = &obj
		return res
	}
	res.Response = out.Body
	return res
}

func tooLarge(limit int64) *openai.Error {
	return openai.NewError(http.StatusRequestEntityTooLarge,
		fmt.Sprintf("request body exceeds the batch limit of %d bytes", limit), "request_too_large")
}

// renderError answers err: through the route adapter's renderer when the
// handler is mounted behind one (reqscope.Scope.RenderError), so the
// error has the API's one shape and headers; else by itself.
func renderError(w http.ResponseWriter, r *http.Request, err error) {
	if render := reqscope.From(r.Context()).RenderError; render != nil {
		render(err)
		return
	}
	writeError(w, apierror.From(err))
}

func writeError(w http.ResponseWriter, e *openai.Error) {
	if e.Status == 499 {
		return // the client is gone
	}
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	w.Write(e.JSON())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, openai.NewError(http.StatusInternalServerError, "internal error", ""))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
