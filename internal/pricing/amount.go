package pricing

import (
	"fmt"
	"math"
	"strconv"
)

// Nano is the number of Amount units in one unit of currency.
const Nano = 1_000_000_000

// Amount is money in nano-units of its currency (1e-9 USD, 1e-9 CNY).
//
// Why nano-units: every price DeepSeek publishes has at most six decimals
// per million tokens (the smallest, $0.003625 for V4-Pro cache hits before
// August 2026), so a price per million tokens is an exact integer of
// nano-units with room to spare, and int64 still holds ±9.2 billion units
// of currency, far beyond any budget. A request's cost is computed exactly
// (tokens × price, 128-bit) and divided by a million once, rounding half to
// even, so each request is within half a nano-unit of the exact figure and
// sums of stored costs are exact integer sums: a report equals the sum of
// the audit records to the last digit. Micro-units would not do: a
// thousand cache-hit tokens of deepseek-flash off-peak cost $0.000003, and
// a micro-unit price could not even hold $0.003625.
type Amount int64

// MaxAmount is the largest Amount; costs saturate there instead of
// wrapping.
const MaxAmount = Amount(math.MaxInt64)

// ParseAmount reads a plain decimal such as "0.003625", "27" or "27.0".
// It accepts at most nine decimal places (anything finer is not
// representable exactly) and no sign, exponent or separators, so a price
// in a config file is taken exactly as written, never through float64.
func ParseAmount(s string) (Amount, error) {
	if s == "" {
		return 0, fmt.Errorf("empty amount")
	}
	var whole, frac uint64
	i, digits := 0, 0
	for ; i < len(s) && s[i] != '.'; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("amount %q: want a plain decimal like 0.003 (no sign, exponent or separators)", s)
		}
		if whole > (math.MaxInt64/Nano)/10 {
			return 0, fmt.Errorf("amount %q is too large", s)
		}
		whole = whole*10 + uint64(c-'0')
		digits++
	}
	if digits == 0 {
		return 0, fmt.Errorf("amount %q: want a digit before the decimal point", s)
	}
	if i < len(s) { // s[i] == '.'
		i++
		places := 0
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("amount %q: want a plain decimal like 0.003 (no sign, exponent or separators)", s)
			}
			places++
			if places > 9 {
				return 0, fmt.Errorf("amount %q has more than 9 decimal places", s)
			}
			frac = frac*10 + uint64(c-'0')
		}
		if places == 0 {
			return 0, fmt.Errorf("amount %q: want digits after the decimal point", s)
		}
		for ; places < 9; places++ {
			frac *= 10
		}
	}
	v := whole*Nano + frac
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	return Amount(v), nil
}

// MustAmount is ParseAmount for constants in code and tests; it panics on
// a malformed literal (a programmer error).
func MustAmount(s string) Amount {
	a, err := ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return a
}

// Units is the amount in units of currency as a float64, for Prometheus
// counters and charts only; never add Units back into money.
func (a Amount) Units() float64 { return float64(a) / Nano }

// String formats the amount with at least six decimals and as many more
// (up to nine) as it needs to be exact: "0.000624", "0.753000",
// "0.000000003".
func (a Amount) String() string {
	var buf [32]byte
	return string(a.AppendText(buf[:0]))
}

// AppendText appends the String form to dst without allocating when dst
// has room.
func (a Amount) AppendText(dst []byte) []byte {
	u := uint64(a)
	if a < 0 {
		dst = append(dst, '-')
		u = -u // two's complement; right for MinInt64 too
	}
	dst = strconv.AppendUint(dst, u/Nano, 10)
	frac := u % Nano
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 9
	for n > 6 && digits[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, digits[:n]...)
}

// Currency is an ISO 4217 code: USD, CNY.
type Currency string

// The currencies DeepSeek bills in.
const (
	USD Currency = "USD"
	CNY Currency = "CNY"
)

// validCurrency reports whether c looks like an ISO 4217 code (three
// capital letters); any such code is accepted for internal prices.
func validCurrency(c Currency) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}
