package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/usage"
)

// usageCheck compares the audit trail with the usage store over a period.
type usageCheck struct {
	files    []string
	from, to time.Time
	per      usage.Period
	loc      *time.Location
	records  int // metered audit records in the period, set by run
}

// newUsageCheck reads the flags of a check.
func newUsageCheck(o reconcileFlags, cfg *config.Config) (*usageCheck, error) {
	c := &usageCheck{files: o.audit}
	var err error
	if c.loc, err = time.LoadLocation(o.zone); err != nil {
		return nil, fmt.Errorf("--time-zone: %w", err)
	}
	switch o.per {
	case "day":
		c.per = usage.PerDay
	case "hour":
		c.per = usage.PerHour
	default:
		return nil, fmt.Errorf("--per must be day or hour")
	}
	for _, b := range []struct {
		v   string
		dst *time.Time
	}{{o.from, &c.from}, {o.to, &c.to}} {
		if b.v == "" {
			continue
		}
		if *b.dst, err = admin.ParseReportTime(b.v, c.loc); err != nil {
			return nil, fmt.Errorf("--from/--to: %w", err)
		}
	}
	if len(c.files) == 0 {
		if !cfg.Audit.Enabled || cfg.Audit.File.Disabled {
			return nil, fmt.Errorf("the config writes no audit file: name the audit trail's files with --audit")
		}
		c.files, err = auditFiles(cfg.Audit.File.Path)
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// auditFiles lists the file sink's files: the rotated ones beside the
// live file, then the live file.
func auditFiles(live string) ([]string, error) {
	ext := filepath.Ext(live)
	rotated, err := filepath.Glob(strings.TrimSuffix(live, ext) + "-*" + ext)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(live); err == nil {
		rotated = append(rotated, live)
	}
	if len(rotated) == 0 {
		return nil, fmt.Errorf("no audit files at %s", live)
	}
	return rotated, nil
}

// run reads both sides and returns where they differ.
func (c *usageCheck) run(ctx context.Context, dsn string) ([]usage.Difference, error) {
	fromAudit, err := c.readAudit()
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	stored, err := st.Usage(ctx, store.UsageFilter{From: c.from, To: c.to, ByHour: true})
	if err != nil {
		return nil, err
	}
	return usage.Reconcile(fromAudit, stored, c.per, c.loc), nil
}

// readAudit returns the usage of the metered audit records in the period.
func (c *usageCheck) readAudit() ([]store.UsageDelta, error) {
	var out []store.UsageDelta
	for _, name := range c.files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var ev audit.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if d, ok := usage.FromAudit(&ev); ok && admin.InRange(ev.RequestAt, c.from, c.to) {
				out = append(out, d)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	c.records = len(out)
	return out, nil
}

// print writes the differences, one line per differing figure, and a
// summary.
func (c *usageCheck) print(out io.Writer, diffs []usage.Difference) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if len(diffs) > 0 {
		fmt.Fprintln(tw, "PRINCIPAL\tMODEL\tPERIOD\tCURRENCY\tFIGURE\tAUDIT\tSTORE\tSTORE-AUDIT")
	}
	for _, d := range diffs {
		a, s := d.Audit, d.Store
		period := a.Day.In(c.loc).Format(time.DateOnly)
		switch {
		case c.per == usage.PerHour && !a.Hour.IsZero():
			period = a.Hour.In(c.loc).Format(admin.HourLayout)
		case c.per == usage.PerHour:
			period += " UTC, hour unknown"
		}
		for _, f := range []struct {
			name string
			a, s int64
		}{{"requests", a.Requests, s.Requests}, {"prompt_tokens", a.PromptTokens, s.PromptTokens},
			{"prompt_cache_hit_tokens", a.CacheHitTokens, s.CacheHitTokens},
			{"completion_tokens", a.CompletionTokens, s.CompletionTokens},
			{"cost_nano", a.Cost, s.Cost}, {"saved_nano", a.CostSaved, s.CostSaved}} {
			if f.a != f.s {
				fmt.Fprintf(tw, "%s:%s\t%s\t%s\t%s\t%s\t%d\t%d\t%+d\n", a.Kind, a.PrincipalID, a.Model, period, a.Currency,
					f.name, f.a, f.s, f.s-f.a)
			}
		}
	}
	tw.Flush()
	span := "all time"
	if !c.from.IsZero() || !c.to.IsZero() {
		span = "[" + bound(c.from, c.loc) + ", " + bound(c.to, c.loc) + ")"
	}
	verdict := "the usage store equals the audit trail"
	if len(diffs) > 0 {
		verdict = strconv.Itoa(len(diffs)) + " bucket(s) differ"
	}
	fmt.Fprintf(out, "%d metered audit records in %d audit file(s), %s, per %s: %s\n", c.records, len(c.files), span, c.per, verdict)
}

// bound formats a period bound as covered (whole UTC hours).
func bound(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "…"
	}
	return admin.CoveredFrom(t).In(loc).Format(time.RFC3339)
}
