package pricing

import (
	"testing"
	"time"
)

func newCal(t *testing.T, zone, weekStart string) *Calendar {
	t.Helper()
	c, err := NewCalendar(CalendarOptions{TimeZone: zone, WeekStart: weekStart})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPeriodBounds(t *testing.T) {
	tests := []struct {
		zone, weekStart string
		p               Period
		at              string
		start, end      string // RFC 3339
		hours           float64
		key             string
	}{
		{"Asia/Shanghai", "", Day, "2026-12-03T15:59:59Z", "2026-12-02T16:00:00Z", "2026-12-03T16:00:00Z", 24, "day:2026-12-03"},
		{"Asia/Shanghai", "", Day, "2026-12-03T16:00:00Z", "2026-12-03T16:00:00Z", "2026-12-04T16:00:00Z", 24, "day:2026-12-04"},
		{"Asia/Shanghai", "", Week, "2026-12-03T10:00:00Z", "2026-11-29T16:00:00Z", "2026-12-06T16:00:00Z", 168, "week:2026-11-30"},
		{"Asia/Shanghai", "sun", Week, "2026-12-03T10:00:00Z", "2026-11-28T16:00:00Z", "2026-12-05T16:00:00Z", 168, "week:2026-11-29"},
		{"Asia/Shanghai", "", Month, "2026-12-31T15:59:59Z", "2026-11-30T16:00:00Z", "2026-12-31T16:00:00Z", 744, "month:2026-12-01"},
		{"Asia/Shanghai", "", Month, "2026-12-31T16:00:00Z", "2026-12-31T16:00:00Z", "2027-01-31T16:00:00Z", 744, "month:2027-01-01"},
		{"UTC", "", Month, "2028-02-29T12:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z", 696, "month:2028-02-01"},
		// DST: New York springs forward on 2026-03-08 (a 23-hour day) and
		// falls back on 2026-11-01 (25 hours); budgets reset at local
		// midnight either way.
		{"America/New_York", "", Day, "2026-03-08T12:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", 23, "day:2026-03-08"},
		{"America/New_York", "", Day, "2026-11-01T12:00:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", 25, "day:2026-11-01"},
		{"America/New_York", "", Week, "2026-03-10T12:00:00Z", "2026-03-09T04:00:00Z", "2026-03-16T04:00:00Z", 168, "week:2026-03-09"},
		{"America/New_York", "", Week, "2026-03-05T12:00:00Z", "2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z", 167, "week:2026-03-02"},
		{"America/New_York", "", Month, "2026-03-15T12:00:00Z", "2026-03-01T05:00:00Z", "2026-04-01T04:00:00Z", 743, "month:2026-03-01"},
		{"Europe/Berlin", "", Month, "2026-10-15T12:00:00Z", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z", 745, "month:2026-10-01"},
		// Santiago springs forward at midnight (2026-09-06 00:00 -> 01:00):
		// that day starts at 01:00 local, 04:00 UTC, and lasts 23 hours.
		{"America/Santiago", "", Day, "2026-09-06T12:00:00Z", "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z", 23, "day:2026-09-06"},
		{"America/Santiago", "", Day, "2026-09-06T03:59:59Z", "2026-09-05T04:00:00Z", "2026-09-06T04:00:00Z", 24, "day:2026-09-05"},
		// And falls back at midnight (2026-04-05 00:00 -> 2026-04-04 23:00):
		// Saturday lasts 25 hours, Sunday starts at the second 23:00's end.
		{"America/Santiago", "", Day, "2026-04-05T02:30:00Z", "2026-04-04T03:00:00Z", "2026-04-05T04:00:00Z", 25, "day:2026-04-04"},
		{"America/Santiago", "", Day, "2026-04-05T04:00:00Z", "2026-04-05T04:00:00Z", "2026-04-06T04:00:00Z", 24, "day:2026-04-05"},
	}
	for _, tt := range tests {
		c := newCal(t, tt.zone, tt.weekStart)
		at := mustTime(t, tt.at)
		start, end := c.Bounds(tt.p, at)
		if !start.Equal(mustTime(t, tt.start)) || !end.Equal(mustTime(t, tt.end)) {
			t.Errorf("%s %s at %s: [%s, %s), want [%s, %s)", tt.zone, tt.p, tt.at,
				start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), tt.start, tt.end)
			continue
		}
		if h := end.Sub(start).Hours(); h != tt.hours {
			t.Errorf("%s %s at %s: %v hours, want %v", tt.zone, tt.p, tt.at, h, tt.hours)
		}
		if start.After(at) || !end.After(at) {
			t.Errorf("%s %s: %s not in [%s, %s)", tt.zone, tt.p, tt.at, start, end)
		}
		if k := c.Key(tt.p, at); k != tt.key {
			t.Errorf("%s %s at %s: key %q, want %q", tt.zone, tt.p, tt.at, k, tt.key)
		}
		if r := c.Reset(tt.p, at); !r.Equal(end) {
			t.Errorf("reset %s != end %s", r, end)
		}
	}
}

// Periods tile time: walking a year hour by hour in zones with DST, each
// period starts where the previous one ended.
func TestPeriodsTile(t *testing.T) {
	for _, zone := range []string{"America/New_York", "America/Santiago", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Shanghai"} {
		c := newCal(t, zone, "")
		for _, p := range []Period{Day, Week, Month} {
			at := mustTime(t, "2026-01-01T00:00:00Z")
			_, end := c.Bounds(p, at)
			for i := 0; i < 366*24; i++ {
				at = at.Add(time.Hour)
				s, e := c.Bounds(p, at)
				if s.After(at) || !e.After(at) {
					t.Fatalf("%s %s: %s outside [%s, %s)", zone, p, at, s, e)
				}
				if !at.Before(end) {
					if !s.Equal(end) {
						t.Fatalf("%s %s: period starts %s, previous ended %s", zone, p, s, end)
					}
					end = e
				}
			}
		}
	}
}

func TestCalendarOptions(t *testing.T) {
	if _, err := NewCalendar(CalendarOptions{TimeZone: "Nowhere/Land"}); err == nil {
		t.Error("bad zone accepted")
	}
	if _, err := NewCalendar(CalendarOptions{WeekStart: "weekdays"}); err == nil {
		t.Error("week_start weekdays accepted")
	}
	if _, err := NewCalendar(CalendarOptions{WeekStart: "someday"}); err == nil {
		t.Error("week_start someday accepted")
	}
	c := newCal(t, "", "sat")
	if c.weekStart != time.Saturday || c.Location() != time.UTC {
		t.Errorf("calendar %+v", c)
	}
	for _, s := range []string{"day", "week", "month"} {
		p, err := ParsePeriod(s)
		if err != nil || p.String() != s {
			t.Errorf("ParsePeriod(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParsePeriod("year"); err == nil {
		t.Error("year accepted")
	}
	if Period(9).String() != "Period(9)" {
		t.Error(Period(9).String())
	}
}
