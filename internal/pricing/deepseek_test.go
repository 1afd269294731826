package pricing

import (
	"os"
	"slices"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// record is testdata/deepseek_pricing.yaml.
type record struct {
	Checked  string                                      `yaml:"checked"`
	Prices   map[Currency]map[string]map[string][]string `yaml:"prices"`
	Aliases  map[string][]string                         `yaml:"aliases"`
	Holidays []string                                    `yaml:"holidays_cn_2026"`
	Peak     struct {
		TimeZone string      `yaml:"time_zone"`
		Windows  [][2]string `yaml:"windows"`
	} `yaml:"peak"`
	Examples []struct {
		Name             string    `yaml:"name"`
		Currency         string    `yaml:"currency"`
		Model            string    `yaml:"model"`
		Start            time.Time `yaml:"start"`
		End              time.Time `yaml:"end"`
		PromptTokens     int64     `yaml:"prompt_tokens"`
		CacheHitTokens   int64     `yaml:"cache_hit_tokens"`
		CompletionTokens int64     `yaml:"completion_tokens"`
		Window           string    `yaml:"window"`
		Amount           string    `yaml:"amount"`
		Saved            string    `yaml:"saved"`
		Header           string    `yaml:"header"`
		AtEndAmount      string    `yaml:"at_end_amount"`
	} `yaml:"examples"`
}

func loadRecord(t *testing.T) record {
	t.Helper()
	data, err := os.ReadFile("testdata/deepseek_pricing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var r record
	if err := yaml.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// The shipped defaults are exactly the recorded, sourced figures.
func TestDeepSeekRecord(t *testing.T) {
	r := loadRecord(t)
	if r.Checked != DefaultsChecked {
		t.Errorf("record checked %s, defaults say %s", r.Checked, DefaultsChecked)
	}
	if got := DefaultCalendars()["cn"]; !slices.Equal(got, r.Holidays) {
		t.Errorf("cn calendar = %v, record %v", got, r.Holidays)
	}
	for _, cur := range []Currency{USD, CNY} {
		defs := Defaults(cur)
		if len(defs) != len(r.Prices[cur]) {
			t.Fatalf("%s: %d defaults, record has %d models", cur, len(defs), len(r.Prices[cur]))
		}
		for _, d := range defs {
			want := r.Prices[cur][d.Model]
			if want == nil {
				t.Fatalf("%s %s not in the record", cur, d.Model)
			}
			off, peak := want["off_peak"], want["peak"]
			eq := func(what string, got []string, want []string) {
				for i := range want {
					if MustAmount(got[i]) != MustAmount(want[i]) {
						t.Errorf("%s %s %s[%d] = %s, record %s", cur, d.Model, what, i, got[i], want[i])
					}
				}
			}
			eq("off_peak", []string{d.CacheHit, d.CacheMiss, d.Output}, off)
			for i := range off { // the page: off-peak is half of peak
				if 2*MustAmount(off[i]) != MustAmount(peak[i]) {
					t.Errorf("%s %s: off-peak %s is not half of peak %s", cur, d.Model, off[i], peak[i])
				}
			}
			if len(d.Windows) != len(r.Peak.Windows) {
				t.Fatalf("%s %s: %d windows", cur, d.Model, len(d.Windows))
			}
			for i, w := range d.Windows {
				eq("peak", []string{w.CacheHit, w.CacheMiss, w.Output}, peak)
				if w.Start != r.Peak.Windows[i][0] || w.End != r.Peak.Windows[i][1] {
					t.Errorf("window %d = %s-%s, record %v", i, w.Start, w.End, r.Peak.Windows[i])
				}
			}
			if d.TimeZone != r.Peak.TimeZone || !slices.Equal(d.Aliases, r.Aliases[d.Model]) {
				t.Errorf("%s: zone %s aliases %v", d.Model, d.TimeZone, d.Aliases)
			}
		}
	}
}

// Worked examples at the page's rates, including a request that starts
// off-peak and ends in the peak (charged at its start).
func TestDeepSeekWorkedExamples(t *testing.T) {
	r := loadRecord(t)
	books := map[string]*Book{}
	for _, cur := range []string{"USD", "CNY"} {
		b, err := New(Options{DefaultsCurrency: cur})
		if err != nil {
			t.Fatal(err)
		}
		books[cur] = b
	}
	for _, ex := range r.Examples {
		t.Run(ex.Name, func(t *testing.T) {
			b := books[ex.Currency]
			u := Usage{PromptTokens: ex.PromptTokens, CacheHitTokens: ex.CacheHitTokens, CompletionTokens: ex.CompletionTokens}
			q := Query{Upstream: "deepseek", UpstreamModel: ex.Model, PublicModel: "chat", Start: ex.Start}
			c, ok := b.Quote(q, u)
			if !ok {
				t.Fatalf("%s not priced", ex.Model)
			}
			if c.Amount != MustAmount(ex.Amount) || c.Saved != MustAmount(ex.Saved) || c.Window != ex.Window ||
				c.Currency != Currency(ex.Currency) || c.Internal {
				t.Errorf("cost = %+v (%s, saved %s), want %s saved %s in %s", c, c.Amount, c.Saved, ex.Amount, ex.Saved, ex.Window)
			}
			if got := c.Header(); got != ex.Header {
				t.Errorf("header = %q, want %q", got, ex.Header)
			}
			if ex.AtEndAmount != "" {
				p, _ := b.Price(q) // resolved at the start, as the request path does
				q.Start = ex.End
				atEnd, _ := b.Quote(q, u)
				if atEnd.Amount != MustAmount(ex.AtEndAmount) || atEnd.Window != "peak" {
					t.Errorf("at end = %s %s, want %s peak", atEnd.Amount, atEnd.Window, ex.AtEndAmount)
				}
				if got := p.Cost(u); got != c {
					t.Errorf("price resolved at start then settled = %+v, want %+v", got, c)
				}
			}
		})
	}
}

// Every edge of the peak windows, in Beijing time and in UTC.
func TestDeepSeekWindowEdges(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04:05.000", s, sh)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		when string
		want string
	}{
		{"2026-12-03 08:59:59.999", "off-peak"},
		{"2026-12-03 09:00:00.000", "peak"},
		{"2026-12-03 11:59:59.999", "peak"},
		{"2026-12-03 12:00:00.000", "off-peak"},
		{"2026-12-03 13:59:59.999", "off-peak"},
		{"2026-12-03 14:00:00.000", "peak"},
		{"2026-12-03 17:59:59.999", "peak"},
		{"2026-12-03 18:00:00.000", "off-peak"},
		{"2026-12-04 10:00:00.000", "peak"},     // Friday
		{"2026-12-05 10:00:00.000", "off-peak"}, // Saturday
		{"2026-12-06 15:00:00.000", "off-peak"}, // Sunday
		{"2026-12-07 09:00:00.000", "peak"},     // Monday
		{"2026-09-25 10:00:00.000", "off-peak"}, // Mid-Autumn, a Friday
		{"2026-09-28 10:00:00.000", "peak"},     // the Monday after
		{"2026-10-07 10:00:00.000", "off-peak"}, // last day of National Day
		{"2026-10-08 10:00:00.000", "peak"},
		{"2026-09-20 10:00:00.000", "off-peak"}, // make-up working Sunday
	}
	for _, tt := range tests {
		p, ok := b.Price(Query{UpstreamModel: "deepseek-flash", Start: at(tt.when)})
		if !ok || p.Window != tt.want {
			t.Errorf("%s Beijing: %q, want %q", tt.when, p.Window, tt.want)
		}
	}
	// The same edges in UTC, as the English page states them.
	utc := []struct {
		when string
		want string
	}{
		{"2026-12-03T00:59:59Z", "off-peak"}, {"2026-12-03T01:00:00Z", "peak"},
		{"2026-12-03T04:00:00Z", "off-peak"}, {"2026-12-03T06:00:00Z", "peak"},
		{"2026-12-03T09:59:59Z", "peak"}, {"2026-12-03T10:00:00Z", "off-peak"},
		{"2026-12-06T17:30:00Z", "off-peak"}, // Monday 01:30 Beijing
		{"2026-12-07T01:30:00Z", "peak"},
	}
	for _, tt := range utc {
		tm, _ := time.Parse(time.RFC3339, tt.when)
		if p, _ := b.Price(Query{UpstreamModel: "deepseek-v4-pro", Start: tm}); p.Window != tt.want {
			t.Errorf("%s: %q, want %q", tt.when, p.Window, tt.want)
		}
	}
}
