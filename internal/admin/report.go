package admin

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/store"
)

// Report dimensions (group_by).
const (
	ByTeam      = "team"
	ByPrincipal = "principal"
	ByModel     = "model"
	ByDay       = "day"
	ByHour      = "hour"
)

// ReportEntry is usage to report: a usage bucket (an hour's or a day's
// totals) or one audit record (one request, with its exact time).
type ReportEntry struct {
	Kind      store.PrincipalKind // "" when unknown (audit records name the principal only)
	Principal string
	Model     string
	At        time.Time // a bucket's hour (or day), or a request's start
	// DayOnly marks a bucket that knows its UTC day only: a daily sum, or
	// usage stored before hourly buckets (migration 0008). It is reported
	// in its UTC day, and per hour as "<day> UTC, hour unknown".
	DayOnly          bool
	Requests         int64
	PromptTokens     int64
	CacheHitTokens   int64
	CompletionTokens int64
	Cost, Saved      int64 // nano-units of Currency
	Currency         string
}

// ReportLine is one group of a report. Money is per currency: lines are
// always split by currency as well as by the dimensions asked for.
type ReportLine struct {
	Team             string  `json:"team,omitempty"`
	Principal        string  `json:"principal,omitempty"`
	Model            string  `json:"model,omitempty"`
	Day              string  `json:"day,omitempty"`
	Hour             string  `json:"hour,omitempty"`
	Currency         string  `json:"currency"`
	Requests         int64   `json:"requests"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CacheHitTokens   int64   `json:"prompt_cache_hit_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Cost             string  `json:"cost"`
	CostNano         int64   `json:"cost_nano"`
	Saved            string  `json:"saved"`
	SavedNano        int64   `json:"saved_nano"`
	CacheHitRatio    float64 `json:"cache_hit_ratio"`
}

// ParseGroupBy reads "team,model,day"; hour and day are exclusive.
func ParseGroupBy(s string) ([]string, error) {
	if s == "" {
		return []string{ByPrincipal, ByModel, ByDay}, nil
	}
	var out []string
	for _, d := range strings.Split(s, ",") {
		d = strings.TrimSpace(d)
		switch d {
		case ByTeam, ByPrincipal, ByModel, ByDay, ByHour:
		default:
			return nil, fmt.Errorf("%w: group_by: %q is not team, principal, model, day or hour", ErrInvalid, d)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if slices.Contains(out, ByDay) && slices.Contains(out, ByHour) {
		return nil, fmt.Errorf("%w: group_by: day or hour, not both", ErrInvalid)
	}
	return out, nil
}

// BuildReport sums entries into lines grouped by the dimensions in
// groupBy (and currency), in loc for day and hour, sorted by the
// dimensions. Days and hours are made of whole UTC hours, as the usage
// store keeps them: an entry counts in the UTC hour it started in, labelled
// with that hour's start in loc, and in the day of loc that hour starts
// in. In a zone whose offset is whole hours that is the local hour and
// day; in one that is not (Asia/Kolkata, +05:30) hours are labelled
// 00:30, 01:30, ... and a day runs from 00:30 to 00:30. teamOf names the team of a principal ("" for none; nil: no
// teams). Sums are exact integer sums of the entries' nano-units.
func BuildReport(entries []ReportEntry, groupBy []string, loc *time.Location, teamOf func(kind store.PrincipalKind, id string) string) []ReportLine {
	if loc == nil {
		loc = time.UTC
	}
	has := func(d string) bool { return slices.Contains(groupBy, d) }
	type key struct{ team, principal, model, day, hour, currency string }
	sums := map[key]*ReportLine{}
	for _, e := range entries {
		var k key
		if has(ByTeam) && teamOf != nil {
			k.team = teamOf(e.Kind, e.Principal)
		}
		if has(ByPrincipal) {
			k.principal = e.Principal
			if e.Kind != "" {
				k.principal = string(e.Kind) + ":" + e.Principal
			}
		}
		if has(ByModel) {
			k.model = e.Model
		}
		k.day, k.hour = periodLabels(e, loc, has(ByDay), has(ByHour))
		k.currency = e.Currency
		l := sums[k]
		if l == nil {
			l = &ReportLine{Team: k.team, Principal: k.principal, Model: k.model, Day: k.day, Hour: k.hour, Currency: k.currency}
			sums[k] = l
		}
		l.Requests += e.Requests
		l.PromptTokens += e.PromptTokens
		l.CacheHitTokens += e.CacheHitTokens
		l.CompletionTokens += e.CompletionTokens
		l.CostNano += e.Cost
		l.SavedNano += e.Saved
	}
	out := make([]ReportLine, 0, len(sums))
	for _, l := range sums {
		l.Cost, l.Saved = pricing.Amount(l.CostNano).String(), pricing.Amount(l.SavedNano).String()
		if l.PromptTokens > 0 {
			l.CacheHitRatio = float64(l.CacheHitTokens) / float64(l.PromptTokens)
		}
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b ReportLine) int {
		return cmp.Or(cmp.Compare(a.Team, b.Team), cmp.Compare(a.Principal, b.Principal), cmp.Compare(a.Model, b.Model),
			cmp.Compare(a.Day, b.Day), cmp.Compare(a.Hour, b.Hour), cmp.Compare(a.Currency, b.Currency))
	})
	return out
}

// periodLabels are an entry's day and hour labels (when asked for).
func periodLabels(e ReportEntry, loc *time.Location, day, hour bool) (string, string) {
	var d, h string
	if e.DayOnly {
		utc := e.At.UTC().Format(time.DateOnly)
		if day {
			d = utc
		}
		if hour {
			h = utc + " UTC, hour unknown"
		}
		return d, h
	}
	start := e.At.Truncate(time.Hour).In(loc)
	if day {
		d = start.Format(time.DateOnly)
	}
	if hour {
		h = start.Format(HourLayout)
	}
	return d, h
}

// HourLayout is the layout of a report's hour labels: the hour's start in
// the report's zone, minutes included (a zone's hours may start at :30).
const HourLayout = "2006-01-02T15:04Z07:00"

// EntriesFromUsage turns usage buckets into report entries: one per hour
// bucket, or per day for daily sums and buckets that know their day only.
func EntriesFromUsage(rows []store.UsageDelta) []ReportEntry {
	out := make([]ReportEntry, 0, len(rows))
	for _, u := range rows {
		at, dayOnly := u.Hour, u.Hour.IsZero()
		if dayOnly {
			at = u.Day
		}
		out = append(out, ReportEntry{Kind: u.Kind, Principal: u.PrincipalID, Model: u.Model, At: at, DayOnly: dayOnly,
			Requests: u.Requests, PromptTokens: u.PromptTokens, CacheHitTokens: u.CacheHitTokens,
			CompletionTokens: u.CompletionTokens, Cost: u.Cost, Saved: u.CostSaved, Currency: u.Currency})
	}
	return out
}

// reportColumns are the CSV and table columns, for the dimensions used.
func reportColumns(groupBy []string) []string {
	var cols []string
	for _, d := range []string{ByTeam, ByPrincipal, ByModel, ByDay, ByHour} {
		if slices.Contains(groupBy, d) {
			cols = append(cols, d)
		}
	}
	return append(cols, "currency", "requests", "prompt_tokens", "prompt_cache_hit_tokens", "completion_tokens",
		"cost", "saved", "cache_hit_ratio")
}

func (l ReportLine) field(col string) string {
	switch col {
	case ByTeam:
		return l.Team
	case ByPrincipal:
		return l.Principal
	case ByModel:
		return l.Model
	case ByDay:
		return l.Day
	case ByHour:
		return l.Hour
	case "currency":
		return l.Currency
	case "requests":
		return strconv.FormatInt(l.Requests, 10)
	case "prompt_tokens":
		return strconv.FormatInt(l.PromptTokens, 10)
	case "prompt_cache_hit_tokens":
		return strconv.FormatInt(l.CacheHitTokens, 10)
	case "completion_tokens":
		return strconv.FormatInt(l.CompletionTokens, 10)
	case "cost":
		return l.Cost
	case "saved":
		return l.Saved
	case "cache_hit_ratio":
		return strconv.FormatFloat(l.CacheHitRatio, 'f', 4, 64)
	}
	return ""
}

// WriteReportCSV writes lines as CSV with a header row.
func WriteReportCSV(w io.Writer, lines []ReportLine, groupBy []string) error {
	cw := csv.NewWriter(w)
	cols := reportColumns(groupBy)
	if err := cw.Write(cols); err != nil {
		return err
	}
	for _, l := range lines {
		rec := make([]string, len(cols))
		for i, c := range cols {
			rec[i] = l.field(c)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteReportTable writes lines as an aligned text table.
func WriteReportTable(w io.Writer, lines []ReportLine, groupBy []string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	cols := reportColumns(groupBy)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t"))+"\t")
	for _, l := range lines {
		for _, c := range cols {
			fmt.Fprint(tw, l.field(c), "\t")
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// NeedHours reports whether a report grouped by groupBy in loc must read
// the store's hourly buckets: to group by hour, or to cut days in a zone
// other than UTC. Otherwise the store's daily sums are enough.
func NeedHours(groupBy []string, loc *time.Location) bool {
	return slices.Contains(groupBy, ByHour) || (slices.Contains(groupBy, ByDay) && loc.String() != "UTC")
}

// ParseReportTime reads a report bound: a date (YYYY-MM-DD, midnight in
// loc) or an RFC 3339 time.
func ParseReportTime(v string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q is neither YYYY-MM-DD nor an RFC 3339 time", ErrInvalid, v)
	}
	return t, nil
}

// CoveredFrom is where a report from `from` really starts: usage is kept
// per whole UTC hour, so a bound inside an hour (midnight in
// Asia/Kolkata is 18:30 UTC) starts the report at the next whole hour;
// the hour it cuts counts in the period before. The same holds for the
// end bound.
func CoveredFrom(from time.Time) time.Time {
	if h := from.Truncate(time.Hour); !h.Equal(from) {
		return h.Add(time.Hour)
	}
	return from
}

// InRange reports whether a request that started at `at` counts in a
// report over [from, to) (zero: open): whether its UTC hour starts in the
// range, as the store selects hourly buckets.
func InRange(at, from, to time.Time) bool {
	h := at.Truncate(time.Hour)
	return (from.IsZero() || !h.Before(from)) && (to.IsZero() || h.Before(to))
}
