package gateway

import (
	"errors"

	"github.com/dsgate/dsgate/internal/upstream"
)

var (
	errNotJSON    error = &upstream.SafeError{Msg: "answer is not a JSON object"}
	errTooLarge   error = &upstream.SafeError{Msg: "answer exceeds the response size limit"}
	errIncomplete error = &upstream.SafeError{Msg: "finish_reason insufficient_system_resource: answer cut short"}
	// ErrStalled means a stream sent nothing for longer than its idle timeout.
	ErrStalled error = &upstream.SafeError{Msg: "stream stalled: no event within the idle timeout"}
	// ErrFirstToken means no first event arrived within the first-token timeout.
	ErrFirstToken error = &upstream.SafeError{Msg: "no first token within the timeout"}
	// ErrStreamCut means the upstream closed a stream before [DONE].
	ErrStreamCut error = &upstream.SafeError{Msg: "stream ended before [DONE]"}
)

// retryable reports whether err allows trying another target.
func retryable(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.Retryable
}
