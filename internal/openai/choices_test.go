package openai

import "testing"

// n multiplies what the upstream generates, so Parse keeps it and refuses
// more choices than MaxChoices.
func TestParseKeepsNAndBoundsIt(t *testing.T) {
	for _, tc := range []struct {
		body    string
		wantN   int
		wantErr bool
	}{
		{`{"model":"m","messages":[{"role":"user","content":"a"}]}`, 1, false},
		{`{"model":"m","n":null,"messages":[{"role":"user","content":"a"}]}`, 1, false},
		{`{"model":"m","n":3,"messages":[{"role":"user","content":"a"}]}`, 3, false},
		{`{"model":"m","n":16,"messages":[{"role":"user","content":"a"}]}`, 16, false},
		{`{"model":"m","n":17,"messages":[{"role":"user","content":"a"}]}`, 0, true},
		{`{"model":"m","n":128,"messages":[{"role":"user","content":"a"}]}`, 0, true},
	} {
		r, err := Parse(EndpointChat, []byte(tc.body))
		if tc.wantErr {
			if e, ok := err.(*Error); !ok || e.Param != "n" {
				t.Errorf("%s: err %v, want a 400 naming n", tc.body, err)
			}
			continue
		}
		if err != nil || r.N != tc.wantN {
			t.Errorf("%s: n %v err %v, want %d", tc.body, r, err, tc.wantN)
		}
	}
}
