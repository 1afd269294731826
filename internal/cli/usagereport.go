package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/usage"
)

// reportFlags are the options of `dsgate usage report`.
type reportFlags struct {
	store                           storeFlags
	groupBy, from, to, format, zone string
	audit                           []string
}

func newUsageReportCmd() *cobra.Command {
	var o reportFlags
	cmd := &cobra.Command{
		Use:   "report [--audit FILE [FILE...]]",
		Short: "Tokens, requests, cost, cache savings and cache-hit ratio by team, principal, model, day or hour",
		Long: `Report usage and cost from the usage store (hourly totals, the same figures as
GET /admin/usage/report) or, with --audit, from audit trail files (the
requests whose usage was recorded: records with "metered", a cache hit
with no tokens; so both give the same figures, which dsgate usage
reconcile checks). Money is reported per currency, exactly
(the nano-unit sums of the requests). Days and hours are cut in
--time-zone from whole UTC hours: in a zone whose offset is not whole
hours (Asia/Kolkata, +05:30) hours are labelled 00:30, 01:30, ... and a
day runs from 00:30 to 00:30 local time.`,
		Args: cobra.ArbitraryArgs, // more audit files: a shell glob after --audit
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && len(o.audit) == 0 {
				return fmt.Errorf("files are audit trail files: name the first with --audit")
			}
			o.audit = append(o.audit, args...)
			return runUsageReport(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	dbFlag(cmd, &o.store)
	f := cmd.Flags()
	f.StringVar(&o.groupBy, "group-by", "principal,model,day", "team, principal, model, day, hour (comma-separated)")
	f.StringVar(&o.from, "from", "", "start: YYYY-MM-DD (midnight in --time-zone) or an RFC 3339 time (default: all)")
	f.StringVar(&o.to, "to", "", "end (excluded), like --from (default: all)")
	f.StringVar(&o.format, "format", "table", "table, csv or json")
	f.StringVar(&o.zone, "time-zone", "UTC", "zone days and hours are cut in")
	f.StringSliceVar(&o.audit, "audit", nil, "audit trail files (JSON lines) to report from instead of the usage store")
	return cmd
}

func runUsageReport(ctx context.Context, out io.Writer, o reportFlags) error {
	groupBy, err := admin.ParseGroupBy(o.groupBy)
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(o.zone)
	if err != nil {
		return fmt.Errorf("--time-zone: %w", err)
	}
	var from, to time.Time
	for _, p := range []struct {
		v   string
		dst *time.Time
	}{{o.from, &from}, {o.to, &to}} {
		if p.v == "" {
			continue
		}
		if *p.dst, err = admin.ParseReportTime(p.v, loc); err != nil {
			return fmt.Errorf("--from/--to: %w", err)
		}
	}
	var (
		entries []admin.ReportEntry
		teamOf  func(store.PrincipalKind, string) string
	)
	if o.store.dsn != "" {
		st, err := openStore(ctx, o.store.dsn)
		if err != nil {
			return err
		}
		defer st.Close()
		if ts, ok := st.(store.TeamStore); ok {
			if teamOf, err = admin.TeamLookup(ctx, ts); err != nil {
				return err
			}
		}
		if len(o.audit) == 0 {
			rows, err := st.Usage(ctx, store.UsageFilter{From: from, To: to, ByHour: admin.NeedHours(groupBy, loc)})
			if err != nil {
				return err
			}
			entries = admin.EntriesFromUsage(rows)
		}
	}
	if len(o.audit) > 0 {
		if entries, err = auditEntries(o.audit, from, to); err != nil {
			return err
		}
	} else if o.store.dsn == "" {
		return fmt.Errorf("--db, --config or --audit is required")
	}
	lines := admin.BuildReport(entries, groupBy, loc, teamOf)
	switch o.format {
	case "table":
		return admin.WriteReportTable(out, lines, groupBy)
	case "csv":
		return admin.WriteReportCSV(out, lines, groupBy)
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(lines)
	}
	return fmt.Errorf("--format must be table, csv or json")
}

// auditEntries reads the usage of the metered audit records (those whose
// usage the store recorded, counted as the store counts them: see
// usage.FromAudit) whose UTC hour starts in [from, to) (zero: open), as
// the store selects hours.
func auditEntries(files []string, from, to time.Time) ([]admin.ReportEntry, error) {
	var deltas []store.UsageDelta
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var ev audit.Event
			if json.Unmarshal(sc.Bytes(), &ev) != nil || !admin.InRange(ev.RequestAt, from, to) {
				continue
			}
			if d, ok := usage.FromAudit(&ev); ok {
				deltas = append(deltas, d)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return admin.EntriesFromUsage(deltas), nil
}
