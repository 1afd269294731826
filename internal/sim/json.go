package sim

import (
	"strconv"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// Responses are written with append helpers rather than encoding/json: the
// shapes are fixed and the simulator is the upstream in throughput
// benchmarks, so it avoids reflection and intermediate maps.

func appendIntField(b []byte, key string, v int) []byte {
	return strconv.AppendInt(jsonenc.AppendKey(b, key), int64(v), 10)
}

func appendHex(b []byte, v uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, "0123456789abcdef"[(v>>uint(shift))&0xf])
	}
	return b
}
