package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/sim"
)

func newSimCmd() *cobra.Command {
	var (
		addr, models, reasoningField, personality string
		balance                                   float64
		o                                         sim.Options
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the simulator engine: an OpenAI-compatible server that behaves like a DeepSeek model",
		Long: `Run the built-in simulator engine. It is a simulator, not a model: its text
is deterministic filler derived from the prompt. It serves the chat,
completions, FIM and embeddings APIs, vLLM-style /metrics and /health, and can
inject faults. Use it for tests, benchmarks and the offline quick start.

--personality deepseek makes it a strict double of DeepSeek's cloud API:
only the current model names (others get DeepSeek's 400), thinking on by
default, DeepSeek's error bodies, FIM under /beta only and refused in
thinking mode, GET /user/balance, keep-alives while a request waits. With
--api-key every request must carry "Authorization: Bearer KEY".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if models != "" {
				o.Models = strings.Split(models, ",")
			}
			p, err := sim.ParsePersonality(personality)
			if err != nil {
				return err
			}
			o.Personality = p
			if balance >= 0 {
				o.Balance = []sim.Balance{{Currency: "CNY", ToppedUp: balance}}
			}
			o.ReasoningField = reasoningField
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			o.Logger = log
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: sim.New(o), ReadHeaderTimeout: 10 * time.Second}
			log.Info("simulator listening", "addr", ln.Addr().String(), "personality", string(o.Personality))
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-cmd.Context().Done():
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:9000", "listen address")
	f.StringVar(&addr, "listen", "127.0.0.1:9000", "listen address (same as --addr)")
	f.StringVar(&personality, "personality", "plain", "plain (permissive) or deepseek (strict double of DeepSeek's API)")
	f.StringVar(&o.APIKey, "api-key", "", "require this bearer key on API requests (DeepSeek's 401 otherwise)")
	f.Float64Var(&balance, "balance", -1, "deepseek personality: CNY balance /user/balance reports (default 100; 0 answers 402)")
	f.StringVar(&models, "models", "", "comma-separated model ids (default "+strings.Join(sim.DefaultModels(), ",")+
		"; deepseek personality: "+strings.Join(sim.DeepSeekModels(), ",")+")")
	f.StringVar(&reasoningField, "reasoning-field", "reasoning_content", "reasoning_content (DeepSeek) or reasoning (newer vLLM)")
	f.DurationVar(&o.TTFT, "ttft", 0, "time to first token")
	f.Float64Var(&o.TokensPerSecond, "tps", 0, "tokens per second (0: unpaced)")
	f.IntVar(&o.MaxTokens, "max-tokens", 16, "completion length when a request sets none")
	f.IntVar(&o.ContextLength, "context-length", 0, "context window: longer prompts get the engine's 400 (0: unlimited)")
	f.IntVar(&o.AnswerTokens, "answer-tokens", 0, "end chat answers after this many tokens with finish_reason stop when the limit is larger (0: fill the limit)")
	f.IntVar(&o.MaxRunning, "max-running", 0, "requests generating at once; more wait (models continuous batching)")
	f.DurationVar(&o.KeepAliveEvery, "keep-alive", 0, "send keep-alives this often while a request waits (deepseek personality default 1s; negative: off)")
	f.Float64Var(&o.Faults.ErrorRate, "error-rate", 0, "fraction of requests answered with --error-status")
	f.IntVar(&o.Faults.ErrorStatus, "error-status", 500, "status of injected errors")
	f.Float64Var(&o.Faults.LatencySpikeRate, "spike-rate", 0, "fraction of requests delayed by --spike")
	f.DurationVar(&o.Faults.LatencySpike, "spike", 0, "extra delay of a latency spike")
	f.IntVar(&o.Faults.CutAfterChunks, "cut-after", 0, "cut streams after N chunks (0: never)")
	f.IntVar(&o.Faults.StallAfterChunks, "stall-after", 0, "stall streams after N chunks (0: never)")
	f.Int64Var(&o.Faults.Seed, "seed", 1, "fault PRNG seed")
	return cmd
}
