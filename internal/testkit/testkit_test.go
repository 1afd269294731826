package testkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// fakeTB records what Need and Eventually asked of it.
type fakeTB struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true }

func TestNeedFailsWhenRequired(t *testing.T) {
	t.Setenv("CI", "")
	for _, tc := range []struct {
		env           string
		err           error
		fail, skipped bool
	}{
		{"1", errors.New("down"), true, false},
		{"", errors.New("down"), false, true},
		{"1", nil, false, false},
	} {
		t.Setenv(RequireEnv, tc.env)
		f := &fakeTB{}
		Need(f, "redis", "start it", tc.err)
		if f.failed != tc.fail || f.skipped != tc.skipped {
			t.Errorf("env %q err %v: failed %v skipped %v", tc.env, tc.err, f.failed, f.skipped)
		}
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, time.Minute, "three polls", func() bool { n++; return n == 3 })
	f := &fakeTB{}
	Eventually(f, 0, "never", func() bool { return false })
	if !f.failed {
		t.Error("a condition that never holds did not fail")
	}
}

func TestObjectsInEveryOrder(t *testing.T) {
	seen := map[string]bool{}
	for body := range ObjectsInEveryOrder([]string{`"a":1`, `"b":2`, `"c":3`}) {
		if !json.Valid([]byte(body)) || seen[body] {
			t.Errorf("%s: invalid or seen before", body)
		}
		seen[body] = true
	}
	if len(seen) != 6 {
		t.Errorf("%d orders, want 6", len(seen))
	}
}

func TestDeepBodies(t *testing.T) {
	var valid []bool
	for body := range DeepBodies(`{"a":[{"b":DEEP}]}`) {
		valid = append(valid, json.Valid([]byte(body)))
	}
	// At 9,999, 10,000 and 10,001 levels: plain, with an object at the
	// deepest level, and with a fault after the deep value.
	want := []bool{true, true, false, true, true, false, false, false, false}
	if !reflect.DeepEqual(valid, want) {
		t.Errorf("valid: %v, want %v", valid, want)
	}
}

// SameBothWays fails on any difference between the two ways but what
// strip clears.
func TestSameBothWays(t *testing.T) {
	type info struct{ A, B int }
	for _, c := range []struct {
		name string
		conv func([]byte, bool) ([]byte, info, error)
		fail bool
	}{
		{"same", func(b []byte, _ bool) ([]byte, info, error) { return b, info{1, 2}, nil }, false},
		{"B differs, stripped", func(b []byte, in bool) ([]byte, info, error) { return b, info{1, map[bool]int{true: 2}[in]}, nil }, false},
		{"A differs", func(b []byte, in bool) ([]byte, info, error) { return b, info{map[bool]int{true: 1}[in], 2}, nil }, true},
		{"document differs", func(b []byte, in bool) ([]byte, info, error) { return []byte(fmt.Sprint(in)), info{}, nil }, true},
		{"error differs", func(b []byte, in bool) ([]byte, info, error) {
			if in {
				return b, info{}, errors.New("x")
			}
			return b, info{}, nil
		}, true},
	} {
		var f fakeTB
		SameBothWays(&f, []byte("{}"), c.conv, func(i *info) { i.B = 0 })
		if f.failed != c.fail {
			t.Errorf("%s: failed %v, want %v", c.name, f.failed, c.fail)
		}
	}
}

// EachHostileBody gives each plain body, the nine deep bodies of each
// template and every faulty body EachFault makes.
func TestEachHostileBody(t *testing.T) {
	faulty := []string{`{"a":1}`}
	want := 2 + 9
	EachFault(faulty, func([]byte) { want++ })
	got := 0
	EachHostileBody([]string{`{}`, `[]`}, []string{`{"a":DEEP}`}, faulty, func([]byte) { got++ })
	if got != want {
		t.Errorf("%d bodies, want %d", got, want)
	}
}
