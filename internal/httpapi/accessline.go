package httpapi

import (
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// LineWriter is a log handler that also writes a line its caller encoded,
// whole and in order with its own (cli's JSON handler). When the process
// log has one, the access log encodes its JSON lines itself, as slog's
// JSONHandler writes them (the same keys in the same order, the same time
// and number formats): slog's generic encoding of a line's attributes was
// most of the access log's cost a request (TestAccessLineIsSlogs).
type LineWriter interface {
	WriteLine(line []byte)
}

var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeAccessLine encodes the access log line of a request and hands it to
// lw; it is accessLog's fast path, field for field.
func writeAccessLine(lw LineWriter, level slog.Level, r *http.Request, s *reqscope.Scope, sw *statusWriter, status int, end time.Time) {
	bp := lineBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":`...)
	b = appendTime(b, time.Now())
	b = append(b, `,"level":`...)
	b = jsonenc.AppendString(b, level.String())
	b = append(b, `,"msg":"request"`...)
	b = appendStr(b, keyRequestID, s.RequestID)
	b = appendStr(b, "method", r.Method)
	b = appendStr(b, "path", clipPath(r.URL.Path))
	b = appendInt(b, keyStatus, int64(status))
	b = jsonenc.AppendKey(b, keyLatency)
	b = appendFloat(b, float64(end.Sub(s.Start).Microseconds())/1000)
	b = appendInt(b, "bytes", sw.bytes)
	if s.Principal != "" {
		b = appendStr(b, "principal", clipPath(s.Principal))
	}
	if s.Model != "" {
		b = appendStr(b, keyModel, s.Model)
		b = appendStr(b, keyUpstream, s.Upstream)
		b = append(b, `,"stream":`...)
		b = strconv.AppendBool(b, s.Stream)
		b = appendInt(b, "attempts", int64(s.Attempts))
		b = appendInt(b, "prompt_tokens", int64(s.PromptTokens))
		b = appendInt(b, "completion_tokens", int64(s.CompletionTokens))
	}
	if s.CacheResult != "" {
		b = appendStr(b, "cache", s.CacheResult)
	}
	if s.Priced {
		b = appendStr(b, "cost", s.Cost.Amount.String())
		b = appendStr(b, "cost_saved", s.Cost.Saved.String())
		b = appendStr(b, "currency", string(s.Cost.Currency))
	}
	if s.Err != nil {
		b = appendStr(b, "error", s.Err.Error())
	}
	b = append(b, "}\n"...)
	lw.WriteLine(b)
	*bp = b
	lineBufs.Put(bp)
}

func appendStr(b []byte, key, v string) []byte {
	return jsonenc.AppendString(jsonenc.AppendKey(b, key), v)
}

func appendInt(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(jsonenc.AppendKey(b, key), v, 10)
}

// appendTime writes t as slog's JSONHandler does: RFC 3339 with
// nanoseconds, quoted.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendFloat writes f as encoding/json does (slog's JSONHandler marshals
// floats with it): decimal between 1e-6 and 1e21, exponent outside.
func appendFloat(b []byte, f float64) []byte {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) || math.IsNaN(f) || math.IsInf(f, 0) {
		return appendSlowFloat(b, f)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

func appendSlowFloat(b []byte, f float64) []byte {
	v, err := json.Marshal(f)
	if err != nil { // NaN or an infinity: no JSON number
		return append(b, '0')
	}
	return append(b, v...)
}
