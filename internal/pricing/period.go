package pricing

import (
	"fmt"
	"time"
)

// Period is a calendar budget period.
type Period uint8

// The budget periods.
const (
	Day Period = iota + 1
	Week
	Month
)

// ParsePeriod reads day, week or month.
func ParsePeriod(s string) (Period, error) {
	switch s {
	case "day":
		return Day, nil
	case "week":
		return Week, nil
	case "month":
		return Month, nil
	}
	return 0, fmt.Errorf("period %q is not day, week or month", s)
}

// String is the config name of the period.
func (p Period) String() string {
	switch p {
	case Day:
		return "day"
	case Week:
		return "week"
	case Month:
		return "month"
	}
	return fmt.Sprintf("Period(%d)", uint8(p))
}

// Calendar computes budget periods in one time zone: a day runs from local
// midnight to local midnight (23 or 25 hours on a DST change), a week from
// local midnight of its first weekday, a month from local midnight of the
// 1st. Periods are half-open: an instant at the boundary belongs to the
// new period.
type Calendar struct {
	loc       *time.Location
	weekStart time.Weekday
}

// CalendarOptions configures a Calendar.
type CalendarOptions struct {
	// TimeZone is an IANA zone such as Asia/Shanghai or Europe/Berlin.
	// Default UTC.
	TimeZone string `yaml:"time_zone"`
	// WeekStart is the first day of a week: mon (default, ISO 8601) or sun
	// (or any other day).
	WeekStart string `yaml:"week_start"`
}

// NewCalendar validates opts and returns the calendar.
func NewCalendar(opts CalendarOptions) (*Calendar, error) {
	loc, err := loadZone(opts.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time_zone: %w", err)
	}
	c := &Calendar{loc: loc, weekStart: time.Monday}
	if opts.WeekStart != "" {
		mask, err := parseDays([]string{opts.WeekStart})
		if err != nil || mask&(mask-1) != 0 {
			return nil, fmt.Errorf("week_start: %q is not one of mon..sun", opts.WeekStart)
		}
		for d := time.Sunday; d <= time.Saturday; d++ {
			if mask == 1<<d {
				c.weekStart = d
			}
		}
	}
	return c, nil
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// Bounds returns the period containing t: its first instant and the first
// instant of the next period, which is when a budget for it resets.
func (c *Calendar) Bounds(p Period, t time.Time) (start, end time.Time) {
	y, m, d := t.In(c.loc).Date()
	switch p {
	case Week:
		back := (int(time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()) - int(c.weekStart) + 7) % 7
		d -= back
		return c.midnight(y, m, d), c.midnight(y, m, d+7)
	case Month:
		return c.midnight(y, m, 1), c.midnight(y, m+1, 1)
	default:
		return c.midnight(y, m, d), c.midnight(y, m, d+1)
	}
}

// Reset is when the period containing t ends and its budget resets.
func (c *Calendar) Reset(p Period, t time.Time) time.Time {
	_, end := c.Bounds(p, t)
	return end
}

// Key names the period containing t by its first local date, such as
// "day:2026-12-03", "week:2026-11-30" or "month:2026-12-01": stable across
// replicas, usable in Redis keys and reports.
func (c *Calendar) Key(p Period, t time.Time) string {
	var buf [24]byte
	return string(c.AppendKey(buf[:0], p, t))
}

// AppendKey appends Key to dst.
func (c *Calendar) AppendKey(dst []byte, p Period, t time.Time) []byte {
	start, _ := c.Bounds(p, t)
	dst = append(dst, p.String()...)
	dst = append(dst, ':')
	return start.In(c.loc).AppendFormat(dst, time.DateOnly)
}

// midnight is the first instant of local date y-m-d (normalised, so d may
// overflow the month). Usually that is 00:00. Where a DST change skips
// midnight (clocks jump from 00:00 to 01:00, as in America/Santiago) the day
// starts at the change, and where one repeats it the day starts at the
// first 00:00; time.Date does not promise which side of such a change it
// picks, so the fast path checks its answer and otherwise searches.
func (c *Calendar) midnight(y int, m time.Month, d int) time.Time {
	want := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // normalised date
	t := time.Date(want.Year(), want.Month(), want.Day(), 0, 0, 0, 0, c.loc)
	if h, mi, s := t.Clock(); h == 0 && mi == 0 && s == 0 && c.dayOf(t).Equal(want) &&
		c.dayOf(t.Add(-time.Second)).Before(want) {
		return t
	}
	// Binary search for the first second whose local date is want; local
	// dates never go backwards, and offsets differ by less than a day.
	lo, hi := t.Add(-26*time.Hour).Unix(), t.Add(26*time.Hour).Unix()
	for lo < hi {
		mid := lo + (hi-lo)/2
		if c.dayOf(time.Unix(mid, 0)).Before(want) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return time.Unix(lo, 0).In(c.loc)
}

// dayOf is t's local date as midnight UTC, for comparing dates.
func (c *Calendar) dayOf(t time.Time) time.Time {
	y, m, d := t.In(c.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
