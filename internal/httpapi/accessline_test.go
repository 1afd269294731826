package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// lineLog is a JSON log with WriteLine, as cli builds the process log.
type lineLog struct {
	slog.Handler
	out *bytes.Buffer
}

func (h lineLog) WriteLine(b []byte) { h.out.Write(b) }

// The access log's own encoding (writeAccessLine, taken when the process
// log is a LineWriter) writes what slog's JSONHandler writes for the same
// request: the same keys in the same order, the same values, the level's
// filter applied.
func TestAccessLineIsSlogs(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		status int
		path   string
		s      reqscope.Scope
	}{
		{name: "bare", status: 200, path: "/v1/models", s: reqscope.Scope{RequestID: "r1"}},
		{name: "inference", status: 200, path: "/v1/chat/completions", s: reqscope.Scope{RequestID: "r2", Principal: "k_1",
			Model: "deepseek-chat", Upstream: "a", Stream: true, Attempts: 2, PromptTokens: 12, CompletionTokens: 7, CacheResult: "miss",
			Priced: true, Cost: pricing.Cost{Amount: 1234567, Saved: 89, Currency: "USD"}}},
		{name: "failed", status: 503, path: "/v1/chat/" + strings.Repeat("é", 300), s: reqscope.Scope{RequestID: "r3",
			Principal: "k_\"<2>&\u2028", Model: "m\x01", Err: errors.New("upstream \"a\": status 503\n\tand <more>")}},
		{name: "slow", status: 200, path: "/", s: reqscope.Scope{RequestID: "r4"}},
	} {
		for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
			tc.s.Start = start
			end := start.Add(1234567 * time.Microsecond)
			if tc.name == "slow" {
				end = start.Add(1e6 * time.Hour)
			}
			r := httptest.NewRequest("POST", "http://x"+tc.path, nil)
			sw := &statusWriter{bytes: 4321}

			var want, got bytes.Buffer
			accessLog(slog.New(slog.NewJSONHandler(&want, &slog.HandlerOptions{Level: level})), r, &tc.s, sw, tc.status, end)
			out := lineLog{Handler: slog.NewJSONHandler(&got, &slog.HandlerOptions{Level: level}), out: &got}
			accessLog(slog.New(out), r, &tc.s, sw, tc.status, end)

			if (want.Len() == 0) != (got.Len() == 0) {
				t.Fatalf("%s at %v: slog wrote %q, the access line %q", tc.name, level, want.String(), got.String())
			}
			if want.Len() == 0 {
				continue
			}
			if !strings.HasSuffix(got.String(), "}\n") || strings.Count(got.String(), "\n") != 1 {
				t.Errorf("%s: not one line: %q", tc.name, got.String())
			}
			wk, wv := decodeOrdered(t, want.Bytes())
			gk, gv := decodeOrdered(t, got.Bytes())
			if !reflect.DeepEqual(wk, gk) {
				t.Errorf("%s: keys %v, slog's %v", tc.name, gk, wk)
			}
			for k, v := range wv {
				if k == "time" {
					if _, err := time.Parse(time.RFC3339Nano, gv[k].(string)); err != nil {
						t.Errorf("%s: time %v: %v", tc.name, gv[k], err)
					}
					continue
				}
				if !reflect.DeepEqual(v, gv[k]) {
					t.Errorf("%s: %s = %#v, slog's %#v", tc.name, k, gv[k], v)
				}
			}
		}
	}
}

// decodeOrdered returns a JSON object's keys in order and its values.
func decodeOrdered(t *testing.T, line []byte) ([]string, map[string]any) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.Token() // {
	var keys []string
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	return keys, m
}
