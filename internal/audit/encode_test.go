package audit

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestAppendJSONMatchesEncodingJSON pins the hand-written encoder to what
// encoding/json decodes back to the same event.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	tricky := []string{"", "plain", `quote " back \ slash`, "ctl \x00\x01\x1f\n\r\t", "bad utf8 \xff\xfe", "é ü 中文 🙂", "line\u2028sep\u2029", "<html>&"}
	for i, s := range tricky {
		ev := Event{ID: "id" + s, Seq: uint64(i) + 1, Chain: s, RequestID: s, Principal: s, Role: s, ClientAddr: s,
			Route: s, Model: s, Upstream: s, Status: 200 + i, CacheResult: s, PromptTokens: i, CompletionTokens: -i,
			CacheHitTokens: 3, RequestAt: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), ResponseAt: time.Time{},
			InputSHA256: s, OutputSHA256: s, Input: s, Output: s, ErrorType: s, PrevHash: s, Hash: s,
			Cost: int64(i) * 7, CostSaved: 3, Currency: s}
		var fast, std Event
		if err := json.Unmarshal(ev.appendJSON(nil), &fast); err != nil {
			t.Fatalf("%q: invalid JSON: %v\n%s", s, err, ev.appendJSON(nil))
		}
		ref, _ := json.Marshal(&ev)
		if err := json.Unmarshal(ref, &std); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Errorf("%q: decoded differently:\nfast %+v\nstd  %+v", s, fast, std)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	ev := Event{ID: "0123456789abcdef0123456789abcdef", Seq: 42, RequestID: "abc", Principal: "key:x", Route: "POST /v1/chat/completions",
		Model: "deepseek-chat", Upstream: "sim", Status: 200, RequestAt: time.Now(), ResponseAt: time.Now(),
		InputSHA256: "ab", OutputSHA256: "cd", PrevHash: "ef", Hash: "01"}
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = ev.appendJSON(buf[:0])
	}
}
