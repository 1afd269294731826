package pricing

import (
	"math"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in   string
		want Amount
		err  string
	}{
		{"0", 0, ""},
		{"27", 27 * Nano, ""},
		{"27.0", 27 * Nano, ""},
		{"0.003625", 3_625_000, ""},
		{"0.000000001", 1, ""},
		{"1.20", 1_200_000_000, ""},
		{"9223372036.854775807", math.MaxInt64, ""},
		{"9223372036.854775808", 0, "too large"},
		{"99999999999", 0, "too large"},
		{"0.0000000001", 0, "more than 9 decimal places"},
		{"", 0, "empty"},
		{"-1", 0, "plain decimal"},
		{"+1", 0, "plain decimal"},
		{"1e-3", 0, "plain decimal"},
		{"1,5", 0, "plain decimal"},
		{".5", 0, "digit before"},
		{"5.", 0, "digits after"},
		{" 1", 0, "plain decimal"},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseAmount(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestAmountString(t *testing.T) {
	tests := []struct {
		in   Amount
		want string
	}{
		{0, "0.000000"},
		{123_000, "0.000123"},
		{3, "0.000000003"},
		{30, "0.00000003"},
		{1_234_567_891, "1.234567891"},
		{753_000_000, "0.753000"},
		{10_040_000_000, "10.040000"},
		{-123_000, "-0.000123"},
		{MaxAmount, "9223372036.854775807"},
		{-MaxAmount - 1, "-9223372036.854775808"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Amount(%d) = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in >= 0 {
			if back, err := ParseAmount(tt.want); err != nil || back != tt.in {
				t.Errorf("round trip %q = %d, %v", tt.want, back, err)
			}
		}
	}
}

func TestCostHeader(t *testing.T) {
	c := Cost{Amount: 123_000, Currency: USD}
	if got := c.Header(); got != "0.000123 USD" {
		t.Errorf("header = %q", got)
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = c.AppendHeader(buf[:0]) }); n != 0 {
		t.Errorf("AppendHeader allocates %v times", n)
	}
	if got := (Cost{Amount: 4_160_000, Currency: CNY}).Header(); got != "0.004160 CNY" {
		t.Errorf("header = %q", got)
	}
}

// FuzzParseAmount: whatever parses formats back to the same amount.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0", "0.003625", "27.0", "9223372036.854775807", "1.000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAmount(s)
		if err != nil {
			return
		}
		back, err := ParseAmount(a.String())
		if err != nil || back != a {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, a, a.String(), back, err)
		}
		if a < 0 {
			t.Fatalf("%q parsed negative", s)
		}
	})
}
