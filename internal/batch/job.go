package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/store"
)

// endpoints maps the batch endpoints dsgate runs to the gateway's.
var endpoints = map[string]openai.Endpoint{
	"/v1/chat/completions": openai.EndpointChat,
	"/v1/completions":      openai.EndpointCompletion,
	"/v1/embeddings":       openai.EndpointEmbedding,
}

// maxValidationErrors bounds errors.data of a failed batch.
const maxValidationErrors = 100

// lines calls fn with each non-blank line of a job's input file and its
// 0-based number; blank lines keep their number but are skipped.
func (m *Manager) lines(ctx context.Context, fileID string, fn func(n int, line []byte) bool) error {
	rc, err := m.o.Blobs.Open(ctx, fileID)
	if err != nil {
		return fmt.Errorf("opening input file %s: %w", fileID, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	for n := 0; ; n++ {
		line, err := readLine(br, m.o.MaxLineBytes)
		if len(bytes.TrimSpace(line)) > 0 && !fn(n, line) {
			return nil
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading input file %s line %d: %w", fileID, n+1, err)
		}
	}
}

var errLineTooLong = errors.New("line too long")

func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > limit {
			return nil, errLineTooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

// validate checks every input line (OpenAI's validating step) and moves the
// job to in_progress, or to failed with errors.data.
func (m *Manager) validate(ctx context.Context, b store.Batch) (store.Batch, error) {
	var errs []validationError
	add := func(line int, code, param, msg string) {
		if len(errs) < maxValidationErrors {
			l := line + 1
			errs = append(errs, validationError{Code: code, Message: msg, Param: stringOrNil(param), Line: &l})
		}
	}
	seen := map[string]bool{}
	var total int64
	model := ""
	err := m.lines(ctx, b.InputFileID, func(n int, raw []byte) bool {
		total++
		if total > int64(m.o.MaxLines) {
			add(n, "too_many_requests", "", fmt.Sprintf("a batch holds at most %d requests", m.o.MaxLines))
			return false
		}
		var in inputLine
		if err := json.Unmarshal(raw, &in); err != nil {
			add(n, "invalid_json_line", "", "this line is not valid JSON: "+err.Error())
			return true
		}
		var body struct {
			Model string `json:"model"`
		}
		switch {
		case in.CustomID == "":
			add(n, "missing_required_parameter", "custom_id", "custom_id is required")
		case seen[in.CustomID]:
			add(n, "duplicate_custom_id", "custom_id", "custom_id "+strconv.Quote(in.CustomID)+" is not unique in this file")
		case in.Method != "POST":
			add(n, "invalid_method", "method", "method must be POST")
		case in.URL != b.Endpoint:
			add(n, "mismatched_url", "url", "url must equal the batch endpoint "+b.Endpoint)
		case json.Unmarshal(in.Body, &body) != nil || body.Model == "":
			add(n, "missing_required_parameter", "body.model", "body must be a JSON object with a model")
		}
		seen[in.CustomID] = true
		if model == "" {
			model = body.Model
		}
		return true
	})
	if err != nil {
		if errors.Is(err, errLineTooLong) {
			add(int(total), "line_too_long", "", fmt.Sprintf("a line exceeds %d bytes", m.o.MaxLineBytes))
		} else if ctx.Err() != nil {
			return b, err
		} else {
			add(0, "invalid_file", "input_file_id", "the input file cannot be read")
		}
	}
	if total == 0 && len(errs) == 0 {
		add(0, "empty_file", "input_file_id", "the input file has no requests")
	}
	next := b
	if len(errs) > 0 {
		next.Status, next.FailedAt = store.BatchFailed, m.o.Now()
		next.Errors, _ = json.Marshal(map[string]any{"object": "list", "data": errs})
	} else {
		next.Status, next.InProgressAt, next.Total, next.Model = store.BatchInProgress, m.o.Now(), total, model
	}
	if err := m.o.Store.UpdateBatch(ctx, next, store.BatchValidating); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return m.o.Store.Batch(ctx, b.ID) // cancelled while validating
		}
		return b, err
	}
	return next, nil
}

// dispatch sends every line that has no recorded answer, at most Workers
// at a time across jobs, and waits for them. It stops sending when jctx is
// cancelled (the batch is being cancelled, or the process stops) or the
// completion window passes; expired reports the latter. Lines already
// sent run on with ctx, cut only when the process stops: a cancelled
// batch reports (and its output holds) every line it was charged for.
//
// A line refused by its own principal's rate limit waits without its
// worker slot (slot), so one tenant's limit cannot keep the shared
// workers asleep; a job has at most Workers lines out at a time, running
// or waiting.
func (m *Manager) dispatch(ctx, jctx context.Context, b store.Batch) (expired bool, err error) {
	done, err := m.answered(ctx, b.ID)
	if err != nil {
		return false, err
	}
	var p auth.Principal
	if err := json.Unmarshal(b.Principal, &p); err != nil {
		return false, fmt.Errorf("decoding batch principal: %w", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	own := make(chan struct{}, cap(m.sem)) // this job's lines out
	err = m.lines(jctx, b.InputFileID, func(n int, raw []byte) bool {
		if done[int64(n)] {
			return true
		}
		if !b.ExpiresAt.IsZero() && m.o.Now().After(b.ExpiresAt) {
			expired = true
			return false
		}
		select {
		case own <- struct{}{}:
		case <-jctx.Done():
			return false
		}
		s := &slot{sem: m.sem}
		if !s.acquire(jctx) {
			<-own
			return false
		}
		raw = bytes.Clone(raw)
		wg.Go(func() {
			defer func() { s.release(); <-own }()
			if err := m.runLine(ctx, jctx, s, b, &p, int64(n), raw); err != nil && ctx.Err() == nil {
				m.o.Logger.Warn("recording batch item", "batch", b.ID, "line", n, "error", err.Error())
			}
		})
		return true
	})
	if jctx.Err() != nil {
		return false, nil
	}
	return expired, err
}

// answered returns the lines of batch id that have a recorded answer.
func (m *Manager) answered(ctx context.Context, id string) (map[int64]bool, error) {
	done := map[int64]bool{}
	after := int64(-1)
	for {
		items, err := m.o.Store.BatchItems(ctx, id, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			done[it.Line] = true
			after = it.Line
		}
		if len(items) < 1000 {
			return done, nil
		}
	}
}

// slot is a worker slot (Manager.sem) as one line holds it.
type slot struct {
	sem  chan struct{}
	held bool
}

func (s *slot) acquire(ctx context.Context) bool {
	select {
	case s.sem <- struct{}{}:
		s.held = true
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *slot) release() {
	if s.held {
		<-s.sem
		s.held = false
	}
}

// runLine answers one line and records it, as the batch's principal is
// now (a key revoked since the batch was created is refused; its models
// and limits are today's). Refusals by the principal's own rate limits
// wait, without the worker slot s, and try again rather than fail the
// line; a line whose job stops (jctx) while it waits is not recorded, so
// it runs again after a resume. A line sent runs with ctx, which only
// the process's stop cuts.
func (m *Manager) runLine(ctx, jctx context.Context, s *slot, b store.Batch, saved *auth.Principal, n int64, raw []byte) error {
	var in inputLine
	_ = json.Unmarshal(raw, &in) // validated
	reqID := b.ID + "-" + strconv.FormatInt(n, 10)
	e, ok := endpoints[b.Endpoint]
	var out Outcome
	for {
		p, err := m.o.Exec.access().Current(ctx, saved)
		if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
			// The store cannot tell (an outage): the line waits and asks
			// again rather than fail for it, or run unchecked.
			m.o.Logger.Warn("checking a batch's principal", "batch", b.ID, "line", n, "error", err.Error())
			s.release()
			if !sleep(jctx, time.Second) || !s.acquire(jctx) {
				return nil
			}
			continue
		}
		switch {
		case err != nil:
			out = m.o.Exec.Refuse(ctx, saved, err, reqID, "BATCH "+b.Endpoint, "")
		case !ok:
			out = m.o.Exec.Refuse(ctx, p, openai.InvalidRequest("url", "unsupported endpoint "+b.Endpoint), reqID, "BATCH unsupported", "")
		default:
			out = m.o.Exec.Do(ctx, p, e, in.Body, reqID, "BATCH "+b.Endpoint, "", nil)
		}
		wait, after := out.rateLimited()
		if !wait {
			break
		}
		s.release()
		if !sleep(jctx, min(max(time.Duration(after), 100*time.Millisecond), 30*time.Second)) || !s.acquire(jctx) {
			return nil
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	line := outputLine{ID: "batch_req_" + strings.TrimPrefix(b.ID, "batch_") + "_" + strconv.FormatInt(n, 10), CustomID: in.CustomID}
	it := store.BatchItem{BatchID: b.ID, Line: n, CustomID: in.CustomID}
	if out.Err != nil {
		it.Failed = true
		line.Response = &outputResponse{StatusCode: out.Status, RequestID: reqID, Body: out.Err.JSON()}
	} else {
		line.Response = &outputResponse{StatusCode: out.Status, RequestID: reqID, Body: out.Body}
		u := out.Usage
		it.PromptTokens, it.CachedTokens = int64(u.PromptTokens), int64(u.CacheHitTokens())
		it.CompletionTokens, it.ReasoningTokens = int64(u.CompletionTokens), int64(u.ReasoningTokens())
	}
	var err error
	if it.Output, err = json.Marshal(line); err != nil {
		return err
	}
	_, err = m.o.Store.AddBatchItem(context.WithoutCancel(ctx), it)
	return err
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// expireRest records every unanswered line of an expired batch as failed
// with batch_expired, as OpenAI does.
func (m *Manager) expireRest(ctx context.Context, b store.Batch) error {
	done, err := m.answered(ctx, b.ID)
	if err != nil {
		return err
	}
	var recErr error
	err = m.lines(ctx, b.InputFileID, func(n int, raw []byte) bool {
		if done[int64(n)] {
			return true
		}
		var in inputLine
		_ = json.Unmarshal(raw, &in)
		line := outputLine{ID: "batch_req_" + strings.TrimPrefix(b.ID, "batch_") + "_" + strconv.Itoa(n), CustomID: in.CustomID,
			Error: &lineError{Code: "batch_expired", Message: "This request could not be executed before the completion window expired."}}
		out, _ := json.Marshal(line)
		_, recErr = m.o.Store.AddBatchItem(ctx, store.BatchItem{BatchID: b.ID, Line: int64(n), CustomID: in.CustomID, Failed: true, Output: out})
		return recErr == nil
	})
	return errors.Join(err, recErr)
}

// finalize writes the output and error files from the recorded items and
// moves the job to its final status. It is idempotent: file ids derive
// from the batch id, so a finalization cut short is simply done again.
func (m *Manager) finalize(ctx context.Context, b store.Batch, final string) error {
	if final == store.BatchExpired {
		if err := m.expireRest(ctx, b); err != nil {
			return err
		}
	}
	cur, err := m.o.Store.Batch(ctx, b.ID)
	if err != nil {
		return err
	}
	suffix := strings.TrimPrefix(b.ID, "batch_")
	next := cur
	if cur.Completed > 0 {
		if next.OutputFileID, err = m.writeResults(ctx, cur, "file-"+suffix+"-output", false); err != nil {
			return err
		}
	}
	if cur.Failed > 0 {
		if next.ErrorFileID, err = m.writeResults(ctx, cur, "file-"+suffix+"-errors", true); err != nil {
			return err
		}
	}
	now := m.o.Now()
	next.Status = final
	switch final {
	case store.BatchCompleted:
		next.CompletedAt = now
	case store.BatchCancelled:
		next.CancelledAt = now
	case store.BatchExpired:
		next.ExpiredAt = now
	}
	return m.o.Store.UpdateBatch(ctx, next, cur.Status)
}

// writeResults writes the recorded items of one kind (answers or
// failures) as a JSONL file and registers it.
func (m *Manager) writeResults(ctx context.Context, b store.Batch, id string, failed bool) (string, error) {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		after := int64(-1)
		for {
			items, err := m.o.Store.BatchItems(ctx, b.ID, after, 1000)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			for _, it := range items {
				after = it.Line
				if it.Failed == failed {
					bw.Write(it.Output)
					bw.WriteByte('\n')
				}
			}
			if len(items) < 1000 {
				break
			}
		}
		pw.CloseWithError(bw.Flush())
	}()
	size, err := m.o.Blobs.Put(ctx, id, pr, 0)
	pr.Close()
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", id, err)
	}
	now := m.o.Now()
	kind := "output"
	if failed {
		kind = "error"
	}
	f := store.BatchFile{ID: id, Owner: b.Owner, Filename: b.ID + "_" + kind + ".jsonl", Purpose: "batch_output",
		Bytes: size, CreatedAt: now, ExpiresAt: now.Add(m.o.FileTTL)}
	if err := m.o.Store.CreateBatchFile(ctx, f); err != nil && !errors.Is(err, store.ErrConflict) {
		return "", err
	}
	return id, nil
}
