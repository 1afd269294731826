package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"time"
)

// The floor target: the least a proxy built on net/http's server and
// client does for one chat request (read the body, send it upstream,
// relay the answer, flushing SSE events as they come). The gap between it
// and nginx is the cost of the architecture dsgate keeps (net/http); the
// gap between it and dsgate bare is dsgate's own work.

// serveGoProxy relays every request to upstream until the process ends.
func serveGoProxy(addr, upstream string) error {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+upstream+r.URL.Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		flusher, _ := w.(http.Flusher)
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				if flusher != nil && resp.ContentLength < 0 {
					flusher.Flush()
				}
			}
			if err != nil {
				return
			}
		}
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}
