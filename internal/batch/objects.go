package batch

import (
	"encoding/json"
	"time"

	"github.com/dsgate/dsgate/internal/store"
)

// OpenAI's object shapes (openai-python types/file_object.py, batch.py).
// Optional fields render as null, as OpenAI sends them.

type fileObject struct {
	ID            string  `json:"id"`
	Object        string  `json:"object"`
	Bytes         int64   `json:"bytes"`
	CreatedAt     int64   `json:"created_at"`
	Filename      string  `json:"filename"`
	Purpose       string  `json:"purpose"`
	Status        string  `json:"status"`
	ExpiresAt     *int64  `json:"expires_at"`
	StatusDetails *string `json:"status_details"`
}

func fileJSON(f store.BatchFile) fileObject {
	return fileObject{ID: f.ID, Object: "file", Bytes: f.Bytes, CreatedAt: f.CreatedAt.Unix(), Filename: f.Filename,
		Purpose: f.Purpose, Status: "processed", ExpiresAt: unixOrNil(f.ExpiresAt)}
}

type requestCounts struct {
	Total     int64 `json:"total"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
}

type batchUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int64 `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int64 `json:"total_tokens"`
}

type batchObject struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	Endpoint         string            `json:"endpoint"`
	Model            *string           `json:"model"`
	Errors           json.RawMessage   `json:"errors"`
	InputFileID      string            `json:"input_file_id"`
	CompletionWindow string            `json:"completion_window"`
	Status           string            `json:"status"`
	OutputFileID     *string           `json:"output_file_id"`
	ErrorFileID      *string           `json:"error_file_id"`
	CreatedAt        int64             `json:"created_at"`
	InProgressAt     *int64            `json:"in_progress_at"`
	ExpiresAt        *int64            `json:"expires_at"`
	FinalizingAt     *int64            `json:"finalizing_at"`
	CompletedAt      *int64            `json:"completed_at"`
	FailedAt         *int64            `json:"failed_at"`
	ExpiredAt        *int64            `json:"expired_at"`
	CancellingAt     *int64            `json:"cancelling_at"`
	CancelledAt      *int64            `json:"cancelled_at"`
	RequestCounts    requestCounts     `json:"request_counts"`
	Usage            batchUsage        `json:"usage"`
	Metadata         map[string]string `json:"metadata"`
}

func batchJSON(b store.Batch) batchObject {
	o := batchObject{ID: b.ID, Object: "batch", Endpoint: b.Endpoint, Model: stringOrNil(b.Model), Errors: b.Errors,
		InputFileID: b.InputFileID, CompletionWindow: b.CompletionWindow, Status: b.Status,
		OutputFileID: stringOrNil(b.OutputFileID), ErrorFileID: stringOrNil(b.ErrorFileID),
		CreatedAt: b.CreatedAt.Unix(), InProgressAt: unixOrNil(b.InProgressAt), ExpiresAt: unixOrNil(b.ExpiresAt),
		FinalizingAt: unixOrNil(b.FinalizingAt), CompletedAt: unixOrNil(b.CompletedAt), FailedAt: unixOrNil(b.FailedAt),
		ExpiredAt: unixOrNil(b.ExpiredAt), CancellingAt: unixOrNil(b.CancellingAt), CancelledAt: unixOrNil(b.CancelledAt),
		RequestCounts: requestCounts{Total: b.Total, Completed: b.Completed, Failed: b.Failed}, Metadata: b.Metadata}
	if o.Errors == nil {
		o.Errors = json.RawMessage("null")
	}
	if o.Metadata == nil {
		o.Metadata = map[string]string{}
	}
	o.Usage.InputTokens = b.PromptTokens
	o.Usage.InputTokensDetails.CachedTokens = b.CachedTokens
	o.Usage.OutputTokens = b.CompletionTokens
	o.Usage.OutputTokensDetails.ReasoningTokens = b.ReasoningTokens
	o.Usage.TotalTokens = b.PromptTokens + b.CompletionTokens
	return o
}

// validationError is one entry of a failed batch's errors.data.
type validationError struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
	Line    *int    `json:"line"`
}

// outputLine is one line of an output or error file (BatchRequestOutput).
type outputLine struct {
	ID       string          `json:"id"`
	CustomID string          `json:"custom_id"`
	Response *outputResponse `json:"response"`
	Error    *lineError      `json:"error"`
}

type outputResponse struct {
	StatusCode int             `json:"status_code"`
	RequestID  string          `json:"request_id"`
	Body       json.RawMessage `json:"body"`
}

type lineError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// inputLine is one line of an input file (BatchRequestInput).
type inputLine struct {
	CustomID string          `json:"custom_id"`
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Body     json.RawMessage `json:"body"`
}

func unixOrNil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.Unix()
	return &v
}

func stringOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
