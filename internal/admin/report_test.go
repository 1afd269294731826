package admin

import (
	"testing"
	"time"
)

// Days and hours are cut from whole UTC hours. In Asia/Kolkata (+05:30)
// the hour 18:00-19:00 UTC is 23:30-00:30 there: it is labelled 23:30 and
// counts in the day it starts in, never split; a bucket that knows its day
// only is reported in its UTC day.
func TestReportHoursInAHalfHourZone(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m int) time.Time { return time.Date(2026, 12, 2, h, m, 0, 0, time.UTC) }
	entries := []ReportEntry{
		{Principal: "p", Model: "m", At: at(18, 0), Requests: 1, Cost: 1, Currency: "USD"},  // a bucket
		{Principal: "p", Model: "m", At: at(18, 45), Requests: 1, Cost: 2, Currency: "USD"}, // a request, 00:15 on the 3rd there
		{Principal: "p", Model: "m", At: at(19, 0), Requests: 1, Cost: 4, Currency: "USD"},
		{Principal: "p", Model: "m", At: at(0, 0), DayOnly: true, Requests: 1, Cost: 8, Currency: "USD"},
	}
	hours := BuildReport(entries, []string{ByHour}, kolkata, nil)
	want := map[string]int64{"2026-12-02T23:30+05:30": 3, "2026-12-03T00:30+05:30": 4, "2026-12-02 UTC, hour unknown": 8}
	if len(hours) != len(want) {
		t.Fatalf("hours %+v", hours)
	}
	for _, l := range hours {
		if want[l.Hour] != l.CostNano {
			t.Errorf("hour %s: cost %d, want %d", l.Hour, l.CostNano, want[l.Hour])
		}
	}
	days := BuildReport(entries, []string{ByDay}, kolkata, nil)
	if len(days) != 2 || days[0].Day != "2026-12-02" || days[0].CostNano != 11 || days[1].Day != "2026-12-03" || days[1].CostNano != 4 {
		t.Errorf("days %+v", days)
	}

	from, err := ParseReportTime("2026-12-03", kolkata)
	if err != nil || !from.Equal(at(18, 30)) {
		t.Fatalf("from %v, %v", from, err)
	}
	if got := CoveredFrom(from); !got.Equal(at(19, 0)) {
		t.Errorf("covered from %v", got)
	}
	if InRange(at(18, 45), from, time.Time{}) || !InRange(at(19, 0), from, time.Time{}) {
		t.Error("a request in the hour a bound cuts counts in the period before")
	}
	if _, err := ParseReportTime("yesterday", kolkata); err == nil {
		t.Error("parsed a bad bound")
	}
	if !NeedHours([]string{ByDay}, kolkata) || NeedHours([]string{ByDay}, time.UTC) || !NeedHours([]string{ByHour}, time.UTC) {
		t.Error("NeedHours")
	}
}
