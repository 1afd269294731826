package cache

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 11, 26, 13, 0, 0, 42, time.UTC)
	tests := []struct {
		name string
		e    Entry
		exp  time.Time
	}{
		{"zero", Entry{}, time.Time{}},
		{"full", Entry{
			Body:      []byte(`{"object":"chat.completion"}`),
			Chunks:    [][]byte{[]byte(`{"a":1}`), {}, []byte(`{"b":2}`)},
			Model:     "deepseek-v4-pro",
			CreatedAt: time.Date(2026, 11, 26, 12, 0, 0, 7, time.UTC),
			Usage:     Usage{1, 2, 3, 4, 5},
		}, exp},
		{"negative usage survives", Entry{Body: []byte("x"), Usage: Usage{PromptTokens: -1}}, exp},
		{"unicode model", Entry{Body: []byte("x"), Model: "模型/v1:é"}, exp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := MarshalEntry(tt.e, tt.exp)
			got, err := UnmarshalEntry(b)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.e
			want.ExpiresAt = tt.exp
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if e, ok := EnvelopeExpiresAt(b); !ok || !e.Equal(tt.exp) {
				t.Errorf("EnvelopeExpiresAt = %v, %v", e, ok)
			}
		})
	}
}

func TestEnvelopeCorrupt(t *testing.T) {
	t.Parallel()
	good := MarshalEntry(Entry{Body: []byte("body"), Chunks: [][]byte{[]byte("c")}, Model: "m"}, time.Unix(100, 0))
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 0xff
	version := bytes.Clone(good)
	version[4] = 2
	for name, b := range map[string][]byte{
		"empty":     nil,
		"short":     good[:6],
		"truncated": good[:len(good)-5],
		"bit flip":  flip,
		"version":   version,
		"magic":     append([]byte("XXXX"), good[4:]...),
		"padded":    append(bytes.Clone(good), 0),
	} {
		if _, err := UnmarshalEntry(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzUnmarshalEntry(f *testing.F) {
	f.Add(MarshalEntry(Entry{Body: []byte("b"), Chunks: [][]byte{[]byte("c")}}, time.Unix(1, 0)))
	f.Add([]byte("DSGC\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEntry(b)
		if err != nil {
			return
		}
		again, err := UnmarshalEntry(MarshalEntry(e, e.ExpiresAt))
		if err != nil || !bytes.Equal(again.Body, e.Body) || len(again.Chunks) != len(e.Chunks) {
			t.Fatalf("re-encoding changed the entry: %v", err)
		}
	})
}

// FuzzCanonicalize checks that canonicalisation is idempotent: the
// canonical form of a canonical form is itself, so a key never depends on
// how a body was spelled.
func FuzzCanonicalize(f *testing.F) {
	f.Add([]byte(baseChat))
	f.Add([]byte(`{"a":[1.0,2e3,{"b":"\u00e9","a":null}],"stream":true}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c1, err := canonicalize(nil, body)
		if err != nil {
			return
		}
		c2, err := canonicalize(nil, c1)
		if err != nil {
			t.Fatalf("canonical form %s does not parse: %v", c1, err)
		}
		if !bytes.Equal(c1, c2) {
			t.Fatalf("not idempotent:\n%s\n%s", c1, c2)
		}
	})
}
