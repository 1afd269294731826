package config

import (
	"cmp"
	"net"
	"strings"
)

// GRPC configures the gRPC API (proto/dsgate/v1, InferenceService, plus
// grpc.health.v1 and server reflection). It serves the same pipeline as
// the HTTP API, on its own port, with the HTTP listener's TLS settings.
type GRPC struct {
	// Listen is the host:port of the gRPC listener. Empty: no gRPC API.
	Listen string `yaml:"listen"`
	// MaxRecvBytes bounds one request message. Default 8 MiB.
	MaxRecvBytes int `yaml:"max_recv_bytes"`
	// MaxBatchItems bounds the items of one Batch RPC. Default 100.
	MaxBatchItems int `yaml:"max_batch_items"`
	// BatchConcurrency bounds the items of one Batch RPC run at once.
	// Default 8.
	BatchConcurrency int `yaml:"batch_concurrency"`
}

// normalize fills the defaults. Call it from Config.normalize as
// c.GRPC.normalize().
func (g *GRPC) normalize() {
	g.MaxRecvBytes = cmp.Or(g.MaxRecvBytes, 8<<20)
	g.MaxBatchItems = cmp.Or(g.MaxBatchItems, 100)
	g.BatchConcurrency = cmp.Or(g.BatchConcurrency, 8)
}

// validate reports problems through add, Validate's collector. Call it as
// c.GRPC.validate(c.Server.Listen, add).
func (g GRPC) validate(httpListen string, add func(path, format string, args ...any)) {
	if g.Listen != "" {
		if _, _, err := net.SplitHostPort(g.Listen); err != nil {
			add("grpc.listen", "must be host:port: %v", err)
		} else if g.Listen == httpListen && !strings.HasSuffix(g.Listen, ":0") {
			add("grpc.listen", "must differ from server.listen (%s)", httpListen)
		}
	}
	if g.MaxRecvBytes < 1024 {
		add("grpc.max_recv_bytes", "must be at least 1024")
	}
	if g.MaxBatchItems < 1 || g.MaxBatchItems > 10000 {
		add("grpc.max_batch_items", "must be between 1 and 10000")
	}
	if g.BatchConcurrency < 1 {
		add("grpc.batch_concurrency", "must be at least 1")
	}
}
