package cache

import (
	"reflect"
	"testing"
	"time"
)

// NewCheckedEntry must say exactly what NewEntry and Storable say, for
// answers that decode and for those that do not (then it falls back).
func TestNewCheckedEntryMatchesNewEntryAndStorable(t *testing.T) {
	now := time.Unix(1764000000, 0)
	bodies := []string{
		`{"model":"m","choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`,
		`{"model":"m","choices":[{"finish_reason":null}]}`,
		`{"model":"m","choices":[{"finish_reason":"content_filter"}]}`,
		`{"model":"m","choices":[]}`,
		`{"error":{"message":"x"}}`,
		`{"error":null,"model":"m","choices":[{"finish_reason":"length"}]}`,
		`{"object":"list","data":[{"embedding":[0.1]}],"usage":{"prompt_tokens":2}}`,
		`{"object":"list","data":null}`,
		`{"model":5,"choices":[{"finish_reason":"stop"}]}`,    // NewEntry fails, Storable would say yes
		`{"model":"m","choices":"x"}`,                         // Storable fails, NewEntry succeeds
		`{"model":"m","choices":[{"finish_reason":"stop"}],}`, // bad JSON
		`{"Model":"m","CHOICES":[{"Finish_Reason":"stop"}]}`,  // encoding/json matches keys without case
		`{"model":"m","choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens_details":{"cached_tokens":2}}}`,
	}
	for _, b := range bodies {
		for _, model := range []string{"", "public"} {
			wantE, wantErr := NewEntry([]byte(b), nil, model, now)
			wantOK, _ := Storable([]byte(b))
			gotE, gotOK, gotErr := NewCheckedEntry([]byte(b), nil, model, now)
			if (wantErr != nil) != (gotErr != nil) {
				t.Fatalf("%s: err = %v, NewEntry's = %v", b, gotErr, wantErr)
			}
			if wantErr != nil {
				continue
			}
			if !reflect.DeepEqual(gotE, wantE) || gotOK != wantOK {
				t.Fatalf("%s (model %q): got %+v storable %v, want %+v storable %v", b, model, gotE, gotOK, wantE, wantOK)
			}
		}
	}
}
