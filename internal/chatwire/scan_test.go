package chatwire

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWalkers(t *testing.T) {
	body := []byte(` { "a" : "x\"y\\\\" , "b":[1, {"c":"]}"}, "\\\"" ,null],"d":{}, "e" : true } `)
	var got []string
	err := Object(Trim(body), func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		if string(k) == "b" {
			return Array(v, func(i int, e []byte) error {
				got = append(got, "  "+string(e))
				return nil
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`a="x\"y\\\\"`, `b=[1, {"c":"]}"}, "\\\"" ,null]`, `  1`, `  {"c":"]}"}`, `  "\\\""`, `  null`, `d={}`, `e=true`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("walk (-want +got):\n%s", diff)
	}
	if err := Object([]byte(`[]`), nil); err != ErrShape {
		t.Errorf("Object on an array: %v", err)
	}
}

func TestUnquoteAndName(t *testing.T) {
	for _, s := range []string{"", "plain", "caf\u00e9 \u4f60\u597d", "esc \"q\" \\ \n \t \u2028", "\x01"} {
		raw, _ := json.Marshal(s)
		got, ok := Unquote(raw)
		if !ok || got != s {
			t.Errorf("Unquote(%s) = %q, %v", raw, got, ok)
		}
		if n, ok := Name(raw); !ok || n != s {
			t.Errorf("Name(%s) = %q, %v", raw, n, ok)
		}
	}
	if _, ok := Unquote([]byte(`12`)); ok {
		t.Error("Unquote accepted a number")
	}
	if n, _ := Name([]byte(`"tool_use"`)); n != "tool_use" {
		t.Errorf("Name = %q", n)
	}
	v := []byte(`"assistant"`)
	if a := testing.AllocsPerRun(100, func() { Name(v) }); a != 0 {
		t.Errorf("Name allocates %v times for a known value", a)
	}
}
