package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

// rssResult is the gateway's memory before and after its memory tier was
// filled.
type rssResult struct {
	maxBytes          int64
	entries, bytes    int64
	requests          int64
	before, after, hw int64 // VmRSS before and after filling, VmHWM; KiB
	took              time.Duration
}

// fullMemory fills a memory tier of -fill-bytes with distinct answers of
// -fill-tokens tokens, until it holds 95% of its bound or stops growing.
func (b *bench) fullMemory(ctx context.Context) (*rssResult, error) {
	res := &rssResult{maxBytes: b.cfg.fillBytes}
	g, err := b.startGateway(ctx, "gateway-rss", fmt.Sprintf("  memory: {max_bytes: %d}\n", b.cfg.fillBytes))
	if err != nil {
		return nil, err
	}
	defer g.p.Stop()
	one := &load{conc: 1, count: 1, request: func(int64) *http.Request { return b.chat(g, "rss-first", 16) }}
	if r := one.run(ctx); r.Errs > 0 {
		return nil, fmt.Errorf("first request: %s", r.FirstErr)
	}
	if res.before, err = procStatus(g.p.PID(), "VmRSS:"); err != nil {
		return nil, err
	}
	logf("filling a %d MiB memory tier", b.cfg.fillBytes>>20)
	start := time.Now()
	const batch = 512
	var last int64
	for stalled := 0; stalled < 3 && res.bytes < b.cfg.fillBytes*95/100; {
		base := res.requests
		fill := &load{conc: 8, count: batch, check: servedBy("miss", ""),
			request: func(i int64) *http.Request {
				return b.chat(g, "rss-"+strconv.FormatInt(base+i, 10), b.cfg.fillTokens)
			}}
		if r := fill.run(ctx); r.Errs > 0 {
			return nil, fmt.Errorf("filling: %d errors, first: %s", r.Errs, r.FirstErr)
		}
		res.requests += batch
		m, err := stats(g)
		if err != nil {
			return nil, err
		}
		res.entries, res.bytes = m["memory"].Entries, m["memory"].Bytes
		if res.bytes <= last {
			stalled++
		}
		last = res.bytes
		if res.requests > 50*b.cfg.fillBytes/int64(max(b.cfg.fillTokens, 1)) {
			break // a bound on the run whatever the entry size
		}
	}
	res.took = time.Since(start)
	if res.after, err = procStatus(g.p.PID(), "VmRSS:"); err != nil {
		return nil, err
	}
	if res.hw, err = procStatus(g.p.PID(), "VmHWM:"); err != nil {
		return nil, err
	}
	return res, nil
}

// procStatus reads a KiB field such as VmRSS: from /proc/PID/status.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte(field)); ok {
			if f := bytes.Fields(v); len(f) > 0 {
				return strconv.ParseInt(string(f[0]), 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}
