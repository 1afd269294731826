package store

import (
	"context"
	"time"
)

// Batch statuses, OpenAI's life cycle: validating -> in_progress ->
// finalizing -> completed, or failed, expired, cancelling -> cancelled.
const (
	BatchValidating = "validating"
	BatchInProgress = "in_progress"
	BatchFinalizing = "finalizing"
	BatchCompleted  = "completed"
	BatchFailed     = "failed"
	BatchExpired    = "expired"
	BatchCancelling = "cancelling"
	BatchCancelled  = "cancelled"
)

// BatchFile is the metadata of a Files API file (batch input, output or
// error file). The bytes live in a blob store, not here.
type BatchFile struct {
	ID        string
	Owner     string // the principal's limit key, "key:<id>" or "client:<id>"
	Filename  string
	Purpose   string // batch, batch_output, ...
	Bytes     int64
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

// Batch is an OpenAI Batch API job. Completed, Failed and the token
// totals are maintained by AddBatchItem; UpdateBatch never writes them.
type Batch struct {
	ID               string
	Owner            string
	Principal        []byte // the creator, opaque to the store (JSON)
	Endpoint         string
	InputFileID      string
	CompletionWindow string
	Status           string
	OutputFileID     string
	ErrorFileID      string
	Model            string
	Metadata         map[string]string
	Errors           []byte // the batch's errors object, opaque (JSON); nil when none
	CreatedAt        time.Time
	InProgressAt     time.Time
	ExpiresAt        time.Time
	FinalizingAt     time.Time
	CompletedAt      time.Time
	FailedAt         time.Time
	ExpiredAt        time.Time
	CancellingAt     time.Time
	CancelledAt      time.Time
	Total            int64
	Completed        int64
	Failed           int64
	PromptTokens     int64
	CachedTokens     int64
	CompletionTokens int64
	ReasoningTokens  int64
}

// BatchItem is one answered line of a batch's input file.
type BatchItem struct {
	BatchID          string
	Line             int64 // 0-based line number in the input file
	CustomID         string
	Failed           bool   // the line goes to the error file
	Output           []byte // the output-file line (JSON), without newline
	PromptTokens     int64
	CachedTokens     int64
	CompletionTokens int64
	ReasoningTokens  int64
}

// BatchStore persists Batch API jobs, their files' metadata and the
// answered items, so that a restarted gateway resumes a job without
// running an answered line again.
type BatchStore interface {
	CreateBatchFile(ctx context.Context, f BatchFile) error
	// BatchFile returns the file with id or ErrNotFound.
	BatchFile(ctx context.Context, id string) (BatchFile, error)
	// ListBatchFiles returns owner's files, newest first.
	ListBatchFiles(ctx context.Context, owner string) ([]BatchFile, error)
	DeleteBatchFile(ctx context.Context, id string) error

	CreateBatch(ctx context.Context, b Batch) error
	// Batch returns the batch with id or ErrNotFound.
	Batch(ctx context.Context, id string) (Batch, error)
	// ListBatches returns owner's batches newest first, starting after the
	// batch with id after (when not empty), at most limit.
	ListBatches(ctx context.Context, owner, after string, limit int) ([]Batch, error)
	// UpdateBatch writes b's status, timestamps, file ids, model, total and
	// errors, if the stored status is still from; otherwise it returns
	// ErrConflict (another writer moved the batch on).
	UpdateBatch(ctx context.Context, b Batch, from string) error
	// ActiveBatches returns the batches not yet in a final status, oldest first.
	ActiveBatches(ctx context.Context) ([]Batch, error)
	// AddBatchItem records an answered line and adds it to the batch's
	// counters and token totals, in one transaction. It reports false, and
	// changes nothing, when that line was already recorded.
	AddBatchItem(ctx context.Context, it BatchItem) (bool, error)
	// BatchItems returns recorded items with Line > afterLine, by line, at
	// most limit.
	BatchItems(ctx context.Context, batchID string, afterLine int64, limit int) ([]BatchItem, error)
}
