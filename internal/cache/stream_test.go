package cache

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// readSSE returns the data payloads of an SSE file, [DONE] included, comment
// lines skipped.
func readSSE(t *testing.T, name string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, []byte(data))
		}
	}
	return out
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

func assertJSONEqual(t *testing.T, want, got []byte) {
	t.Helper()
	if diff := cmp.Diff(decodeJSON(t, want), decodeJSON(t, got)); diff != "" {
		t.Errorf("JSON mismatch (-want +got):\n%s", diff)
	}
}

var streamFixtures = []string{"thinking_tools", "deepseek_doc", "fim"}

func TestAssembleStream(t *testing.T) {
	t.Parallel()
	for _, name := range streamFixtures {
		t.Run(name, func(t *testing.T) {
			got, err := AssembleStream(readSSE(t, name+".sse"))
			if err != nil {
				t.Fatal(err)
			}
			assertJSONEqual(t, readFile(t, name+".json"), got)
			if ok, reason := Storable(got); !ok {
				t.Errorf("Storable = false (%s)", reason)
			}
		})
	}
}

func TestReplayAssembleRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range streamFixtures {
		for _, includeUsage := range []bool{true, false} {
			t.Run(name, func(t *testing.T) {
				body := readFile(t, name+".json")
				chunks, err := ReplayChunks(body, includeUsage)
				if err != nil {
					t.Fatal(err)
				}
				got, err := AssembleStream(chunks)
				if err != nil {
					t.Fatal(err)
				}
				want := body
				if !includeUsage {
					m := decodeJSON(t, body).(map[string]any)
					delete(m, "usage")
					want, _ = json.Marshal(m)
				}
				assertJSONEqual(t, want, got)
			})
		}
	}
}

type wireChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role      *string `json:"role"`
			ToolCalls []struct {
				Index *int   `json:"index"`
				ID    string `json:"id"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage json.RawMessage `json:"usage"`
}

func TestReplayShape(t *testing.T) {
	t.Parallel()
	chunks, err := ReplayChunks(readFile(t, "thinking_tools.json"), true)
	if err != nil {
		t.Fatal(err)
	}
	var parsed []wireChunk
	for _, c := range chunks {
		var w wireChunk
		if err := json.Unmarshal(c, &w); err != nil {
			t.Fatal(err)
		}
		if w.ID != "1f63" || w.Created != 1764681242 || w.Object != "chat.completion.chunk" {
			t.Errorf("chunk header = %s", c)
		}
		if !bytes.Contains(c, []byte(`"usage":`)) {
			t.Errorf("chunk without usage field under include_usage: %s", c)
		}
		parsed = append(parsed, w)
	}
	if r := parsed[0].Choices[0].Delta.Role; r == nil || *r != "assistant" {
		t.Errorf("first chunk %s, want the role", chunks[0])
	}
	for i, w := range parsed {
		for _, ch := range w.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index == nil {
					t.Errorf("chunk %d: tool call delta without index: %s", i, chunks[i])
				}
			}
		}
	}
	finish := parsed[len(parsed)-2]
	if fr := finish.Choices[0].FinishReason; fr == nil || *fr != "tool_calls" {
		t.Errorf("finish chunk = %s", chunks[len(chunks)-2])
	}
	last := parsed[len(parsed)-1]
	if last.Choices == nil || len(last.Choices) != 0 || !present(last.Usage) {
		t.Errorf("usage chunk = %s, want choices [] and usage", chunks[len(chunks)-1])
	}

	chunks, err = ReplayChunks(readFile(t, "thinking_tools.json"), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		if bytes.Contains(c, []byte(`"usage"`)) {
			t.Errorf("usage in stream without include_usage: %s", c)
		}
	}
}

func TestEntryStream(t *testing.T) {
	t.Parallel()
	withUsage := readSSE(t, "thinking_tools.sse")
	withUsage = withUsage[:len(withUsage)-1] // [DONE] is the writer's job
	body := readFile(t, "thinking_tools.json")
	e, err := NewEntry(body, withUsage, "", time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if e.Model != "deepseek-v4-pro" || e.Usage != (Usage{82, 40, 122, 12, 64}) {
		t.Errorf("NewEntry model %q usage %+v", e.Model, e.Usage)
	}

	got, err := e.Stream(true)
	if err != nil || len(got) != len(withUsage) {
		t.Fatalf("Stream(true) = %d chunks, %v; want the %d originals", len(got), err, len(withUsage))
	}
	got, err = e.Stream(false)
	if err != nil || len(got) != len(withUsage)-1 || isUsageChunk(got[len(got)-1]) {
		t.Fatalf("Stream(false) = %d chunks, %v; want the usage chunk dropped", len(got), err)
	}

	// DeepSeek's doc stream carries usage on the finish chunk: SDKs sum
	// usage over chunks, so no second usage chunk may be added.
	doc := readSSE(t, "deepseek_doc.sse")
	e, err = NewEntry(readFile(t, "deepseek_doc.json"), doc[:len(doc)-1], "deepseek-chat", time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	got, err = e.Stream(true)
	if err != nil || len(got) != len(doc)-1 {
		t.Fatalf("Stream(true) = %d chunks, %v; want the originals", len(got), err)
	}

	// A stream without any usage gets the usage chunk appended.
	noUsage := withUsage[:len(withUsage)-1]
	e, err = NewEntry(body, noUsage, "", time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	got, err = e.Stream(true)
	if err != nil || len(got) != len(withUsage) || !isUsageChunk(got[len(got)-1]) {
		t.Fatalf("Stream(true) = %d chunks, %v; want a usage chunk appended", len(got), err)
	}

	// Without original chunks the stream is rebuilt from the body.
	e, err = NewEntry(readFile(t, "deepseek_doc.json"), nil, "deepseek-chat", time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	got, err = e.Stream(false)
	if err != nil || len(got) != 3 {
		t.Fatalf("rebuilt stream = %d chunks, %v; want 3", len(got), err)
	}
}

func TestAssembleStreamIncomplete(t *testing.T) {
	t.Parallel()
	chunks := readSSE(t, "thinking_tools.sse")
	cut := chunks[:6] // the client or upstream went away mid-stream
	body, err := AssembleStream(cut)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := Storable(body); ok {
		t.Errorf("interrupted stream is Storable: %s", body)
	}

	withErr := append(chunks[:3:3], []byte(`{"error":{"message":"overloaded","type":"server_error","code":"insufficient_system_resource"}}`))
	if _, err := AssembleStream(withErr); !errors.Is(err, ErrStreamError) {
		t.Errorf("AssembleStream with error chunk = %v, want ErrStreamError", err)
	}
	if _, err := AssembleStream([][]byte{[]byte(`{"id":`)}); err == nil {
		t.Error("AssembleStream of broken JSON succeeded")
	}
	insufficient := bytes.Replace(chunks[10], []byte(`"tool_calls"`), []byte(`"insufficient_system_resource"`), 1)
	body, err = AssembleStream(append(chunks[:10:10], insufficient))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := Storable(body); ok {
		t.Error("insufficient_system_resource answer is Storable")
	}
}

func TestReplayRejectsEmbeddings(t *testing.T) {
	t.Parallel()
	if _, err := ReplayChunks([]byte(`{"object":"list","data":[]}`), false); err == nil {
		t.Error("ReplayChunks of embeddings succeeded")
	}
}
