package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/server"
)

func newServeCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: `Run the gateway. SIGTERM or SIGINT stops accepting connections and lets
in-flight requests and gRPC calls finish within server.shutdown_grace; those
still running near its end are cut with an error event. SIGHUP reloads the
config file: upstreams, models (and their cache policy), routing, auth.enabled,
auth.limits, auth.roles, auth.mtls, server.shutdown_grace and
server.gc_headroom_bytes apply at once, and
upstreams whose definition is unchanged keep their breaker and health state.
A file that is invalid or changes any other key (those need a restart; the log
names them) is refused whole and the running config keeps serving.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			log, flush := newLogger(cmd.ErrOrStderr(), cfg.Log)
			defer flush() // the access lines still held
			// go-redis logs through a process-wide logger of its own;
			// route it into ours so every line is structured.
			goredis.SetLogger(redisLogger{log})
			srv, err := server.New(cfg, log)
			if err != nil {
				return err
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					next, err := config.Load(path)
					if err == nil {
						err = srv.Reload(next)
					}
					if err != nil && next == nil {
						srv.ReloadRefused(err)
					}
					if err != nil {
						log.Error("reload refused; the running config stays", "error", err.Error())
						continue
					}
					log.Info("config reloaded", "path", path)
				}
			}()
			return srv.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "dsgate.yaml", "config file")
	return cmd
}

// redisLogger adapts slog to go-redis's logging interface.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
