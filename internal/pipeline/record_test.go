package pipeline_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// The Recorder feeds dsgate_tokens_total{kind="reasoning"} from the
// request's reasoning tokens (the dashboard's "Tokens in / out" panel).
func TestRecorderCountsReasoningTokens(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	s := &reqscope.Scope{Model: "deepseek-v4-pro", Start: time.Now(), PromptTokens: 7,
		CompletionTokens: 20, ReasoningTokens: 12}
	pipeline.Recorder{Metrics: m}.Record(s, "POST /v1/chat/completions", "POST", "", 200, s.Start)
	for kind, want := range map[string]float64{metrics.TokenPrompt: 7, metrics.TokenCompletion: 20, metrics.TokenReasoning: 12} {
		if got := testutil.ToFloat64(m.Tokens.WithLabelValues("deepseek-v4-pro", kind)); got != want {
			t.Errorf("tokens{kind=%q} = %v, want %v", kind, got, want)
		}
	}
}

// A request refused by its principal's limits is counted by the limit
// that tripped; a limiter that is down (503) and other errors are not.
func TestRecorderCountsRateLimitRejections(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	for _, err := range []error{
		&ratelimit.Error{Dimension: ratelimit.Requests},
		fmt.Errorf("admit: %w", &ratelimit.Error{Dimension: ratelimit.Tokens}),
		&ratelimit.Error{Dimension: ratelimit.Concurrency},
		&ratelimit.Error{Dimension: ratelimit.Requests},
		&ratelimit.Error{Err: ratelimit.ErrBackendUnavailable},
		errors.New("upstream down"),
	} {
		s := &reqscope.Scope{Model: "m", Start: time.Now(), Err: err}
		pipeline.Recorder{Metrics: m}.Record(s, "POST /v1/chat/completions", "POST", "", 429, s.Start)
	}
	for limit, want := range map[string]float64{"rpm": 2, "tpm": 1, "concurrency": 1} {
		if got := testutil.ToFloat64(m.RateLimitRejections.WithLabelValues(limit)); got != want {
			t.Errorf("rejections{limit=%q} = %v, want %v", limit, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.RateLimitRejections); n != 3 {
		t.Errorf("%d rejection series, want 3 (a down limiter is no rejection)", n)
	}
}
