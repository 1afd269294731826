package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/server"
	"github.com/dsgate/dsgate/internal/store/storeopen"
	"github.com/dsgate/dsgate/internal/usage"
)

func newUsageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Recorded usage: reports of tokens and cost, reconcile after a crash",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newUsageReconcileCmd(), newUsageReportCmd())
	return cmd
}

func newUsageReconcileCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Store the usage a stopped gateway journaled but had not stored",
		Long: `Reconcile adds to the store the usage records in the gateway's usage journal
(<audit.dir>/usage/journal) that the store does not have yet, each exactly
once, and cuts the journal back. A gateway does this itself when it starts;
run reconcile when a gateway that crashed or was killed will not be started
again on this host. It refuses while a gateway holds the journal.`,
		Example: `  dsgate usage reconcile --config /etc/dsgate/dsgate.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			n, err := reconcileUsage(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("usage reconcile: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %d usage records from %s\n", n, server.UsageJournalPath(cfg))
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "dsgate.yaml", "config file")
	return cmd
}

// reconcileUsage replays cfg's usage journal into its store and returns
// how many records it added.
func reconcileUsage(ctx context.Context, cfg *config.Config) (int, error) {
	journal := server.UsageJournalPath(cfg)
	if journal == "" {
		return 0, errors.New("audit is off in this config, so the gateway keeps no usage journal")
	}
	st, err := storeopen.Open(ctx, cfg.Store.DSN)
	if err != nil {
		return 0, fmt.Errorf("opening store: %w", err)
	}
	defer st.Close()
	r, err := usage.Open(ctx, st, usage.Options{Journal: journal})
	if errors.Is(err, usage.ErrJournalLocked) {
		return 0, errors.New("a running gateway holds the journal; it stores the usage itself")
	}
	if err != nil {
		return 0, err
	}
	n := r.Stats().Replayed
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.Close(cctx); err != nil {
		return 0, err
	}
	return n, nil
}
