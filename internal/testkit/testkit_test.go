package testkit

import (
	"encoding/json"
	"errors"
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
