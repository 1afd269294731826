package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/config"
)

// A JSON process log takes lines encoded elsewhere (httpapi.LineWriter,
// the access log's fast path), in order with its own; a text log does
// not, so the access log goes through slog there.
func TestJSONLogWritesEncodedLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := newLogger(&buf, config.Log{Level: "info"})
	lw, ok := log.Handler().(interface{ WriteLine([]byte) })
	if !ok {
		t.Fatal("the JSON log has no WriteLine: the access log would be encoded by slog")
	}
	log.Info("first")
	lw.WriteLine([]byte("{\"msg\":\"encoded\"}\n"))
	log.Info("last")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"first"`) || lines[1] != `{"msg":"encoded"}` || !strings.Contains(lines[2], `"last"`) {
		t.Errorf("log = %q", buf.String())
	}
	if _, ok := newLogger(&buf, config.Log{Level: "info", Format: "text"}).Handler().(interface{ WriteLine([]byte) }); ok {
		t.Error("a text log takes JSON lines")
	}
}
