package server

import (
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofHTTP serves Go's profiler on its own listener, never on the API's.
type pprofHTTP struct{ srv *http.Server }

func pprofServer() *pprofHTTP {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &pprofHTTP{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
}
