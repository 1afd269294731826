package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
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
		Short: "Recorded usage: reports of tokens and cost, reconcile with the audit trail and after a crash",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newUsageReconcileCmd(), newUsageReportCmd())
	return cmd
}

// reconcileFlags are the options of `dsgate usage reconcile`.
type reconcileFlags struct {
	config, db, from, to, per, zone string
	audit                           []string
	journalOnly                     bool
}

// reconcileExitDifferent is the exit status when the audit trail and the
// usage store disagree.
const reconcileExitDifferent = 2

func newUsageReconcileCmd() *cobra.Command {
	var o reconcileFlags
	cmd := &cobra.Command{
		Use:   "reconcile [audit files...]",
		Short: "Store what the usage journal holds, then check the usage store against the audit trail",
		Long: `Reconcile does two things.

1. Crash replay (unchanged): it adds to the store the usage records in the
   gateway's usage journal (<audit.dir>/usage/journal) that the store does
   not have yet, each exactly once, and cuts the journal back. A gateway
   does this itself when it starts; it matters when a gateway that crashed
   will not be started again on this host. While a running gateway holds
   the journal this step is skipped (the gateway stores that usage itself).
   --journal-only stops after this step, as reconcile did before it
   checked the audit trail.

2. Check: it sums the audit records of the period whose usage was recorded
   (those with "metered") per principal, model, currency and day or hour,
   and compares requests, tokens, cost and savings, exactly (nano-units),
   with the usage store's hourly buckets. Response-cache hits count as
   requests with no tokens, their cost zero and their savings, as the
   store counts them. Every difference is printed; the exit status is 2
   when there are any, 0 when the two agree.

The audit files are --audit, or the file sink's files of the config
(audit.file.path and its rotated audit-*.jsonl). With --db and --audit
and no --config, only the check runs. Records still in the
audit spool or usage not yet flushed (at most a second) are not in the
files or the store: check a period that ended a little while ago (--to).
Records written before the metered field existed are not counted.`,
		Example: `  dsgate usage reconcile -c /etc/dsgate/dsgate.yaml --from 2026-12-01 --to 2026-12-02
  dsgate usage reconcile -c dsgate.yaml --per hour --time-zone Asia/Shanghai --from 2026-12-02T08:00:00+08:00
  dsgate usage reconcile --db /var/lib/dsgate/dsgate.db --audit /var/lib/dsgate/audit/audit*.jsonl --per hour
  dsgate usage reconcile -c dsgate.yaml --journal-only`,
		Args: cobra.ArbitraryArgs, // more audit files: a shell glob after --audit
		RunE: func(cmd *cobra.Command, args []string) error {
			o.audit = append(o.audit, args...)
			return runReconcile(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.config, "config", "c", "", "config file (default dsgate.yaml, unless --db and --audit are given)")
	f.StringVar(&o.db, "db", "", "control-plane store instead of the config's store.dsn")
	f.StringSliceVar(&o.audit, "audit", nil, "audit trail files (JSON lines); default: the config's audit file sink")
	f.StringVar(&o.from, "from", "", "start: YYYY-MM-DD (midnight in --time-zone) or an RFC 3339 time (default: all)")
	f.StringVar(&o.to, "to", "", "end (excluded), like --from (default: all)")
	f.StringVar(&o.per, "per", "day", "compare per day or per hour")
	f.StringVar(&o.zone, "time-zone", "UTC", "zone days are cut in")
	f.BoolVar(&o.journalOnly, "journal-only", false, "only replay the usage journal into the store (no check)")
	return cmd
}

// runReconcile replays the journal, then compares the audit trail with
// the store.
func runReconcile(ctx context.Context, out io.Writer, o reconcileFlags) error {
	if len(o.audit) > 0 && o.journalOnly {
		return errors.New("--journal-only takes no audit files")
	}
	if o.config == "" && o.db != "" && len(o.audit) > 0 {
		// The check alone: no config, so no journal to replay.
		return checkUsage(ctx, out, o, &config.Config{Store: config.Store{DSN: o.db}})
	}
	if o.config == "" {
		o.config = "dsgate.yaml"
	}
	cfg, err := config.Load(o.config)
	if err != nil {
		return err
	}
	if o.db != "" {
		cfg.Store.DSN = o.db
	}
	n, err := reconcileUsage(ctx, cfg)
	switch {
	case err == nil:
		fmt.Fprintf(out, "added %d usage records from %s\n", n, server.UsageJournalPath(cfg))
	case o.journalOnly && errors.Is(err, usage.ErrJournalLocked):
		return errors.New("usage reconcile: a running gateway holds the journal; it stores the usage itself")
	case o.journalOnly:
		return fmt.Errorf("usage reconcile: %w", err)
	case errors.Is(err, usage.ErrJournalLocked):
		fmt.Fprintln(out, "usage journal: in use by a running gateway, which stores its usage itself")
	case !errors.Is(err, errNoJournal):
		return fmt.Errorf("usage reconcile: %w", err)
	}
	if o.journalOnly {
		return nil
	}
	return checkUsage(ctx, out, o, cfg)
}

// checkUsage compares the audit trail with cfg's store and prints where
// they differ; any difference is exit status reconcileExitDifferent.
func checkUsage(ctx context.Context, out io.Writer, o reconcileFlags, cfg *config.Config) error {
	check, err := newUsageCheck(o, cfg)
	if err != nil {
		return err
	}
	diffs, err := check.run(ctx, cfg.Store.DSN)
	if err != nil {
		return fmt.Errorf("usage reconcile: %w", err)
	}
	check.print(out, diffs)
	if len(diffs) > 0 {
		return exitError{code: reconcileExitDifferent}
	}
	return nil
}

// errNoJournal: the config keeps no usage journal (audit is off).
var errNoJournal = errors.New("audit is off in this config, so the gateway keeps no usage journal")

// reconcileUsage replays cfg's usage journal into its store and returns
// how many records it added.
func reconcileUsage(ctx context.Context, cfg *config.Config) (int, error) {
	journal := server.UsageJournalPath(cfg)
	if journal == "" {
		return 0, errNoJournal
	}
	st, err := storeopen.Open(ctx, cfg.Store.DSN)
	if err != nil {
		return 0, fmt.Errorf("opening store: %w", err)
	}
	defer st.Close()
	r, err := usage.Open(ctx, st, usage.Options{Journal: journal})
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
