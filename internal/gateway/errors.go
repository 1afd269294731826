package gateway

import (
	"errors"

	"github.com/dsgate/dsgate/internal/upstream"
)

var (
	errFull       = errors.New("at max concurrency")
	errNotJSON    = errors.New("answer is not a JSON object")
	errTooLarge   = errors.New("answer exceeds the response size limit")
	errIncomplete = errors.New("finish_reason insufficient_system_resource: answer cut short")
	// ErrStalled means a stream sent nothing for longer than its idle timeout.
	ErrStalled = errors.New("upstream stream stalled")
	// ErrFirstToken means no first event arrived within the first-token timeout.
	ErrFirstToken = errors.New("no first token within the timeout")
	// ErrStreamCut means the upstream closed a stream before [DONE].
	ErrStreamCut = errors.New("upstream stream ended before [DONE]")
)

// retryable reports whether err allows trying another target.
func retryable(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.Retryable
}
