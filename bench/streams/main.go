// Command streams measures what open streams cost a proxy: CPU per event
// and per stream, and memory and goroutines per open stream, for dsgate
// (bare and with its full pipeline) and nginx in the same run, against
// the mock upstream directly. See bench/RESULTS.md, "Streams".
//
//	go build -o /tmp/streams ./bench/streams
//	/tmp/streams -phase open -streams 2000            # memory per open stream
//	/tmp/streams -phase cpu -rounds 3 -duration 10s   # CPU per stream and per event
//
// Everything listens on and dials 127.0.0.1 only; every process started
// is stopped when the runner exits (it dies with the runner too).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

type flags struct {
	phase             string
	streams           []int
	targets           []string
	chunks            int
	interval          time.Duration
	conc              int
	duration, warmup  time.Duration
	rounds            int
	dsgate, nginx     string
	dsgateBefore      string
	memLimit          string
	out               string
	proxyCPU, loadCPU int
	profile           bool
	rampRate          int
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "mock" { // mock ADDR CHUNKS INTERVAL
		var chunks int
		fmt.Sscan(os.Args[3], &chunks)
		iv, _ := time.ParseDuration(os.Args[4])
		log.Fatal(serveMock(os.Args[2], chunks, iv))
	}
	var f flags
	var streams, targets string
	flag.StringVar(&f.phase, "phase", "open", "open (memory and goroutines per open stream) or cpu (CPU per stream and per event)")
	flag.StringVar(&streams, "streams", "2000", "open: numbers of concurrent streams, comma-separated")
	flag.StringVar(&targets, "targets", "direct,nginx,bare,full", "what to measure: direct, nginx, bare, full; a dsgate target with the suffix -before runs -dsgate-before, with -limited (last) runs under -memlimit")
	flag.IntVar(&f.chunks, "chunks", 40, "open: chunks per stream")
	flag.DurationVar(&f.interval, "interval", 250*time.Millisecond, "open: time between chunks (4 tokens/s)")
	flag.IntVar(&f.conc, "conc", 16, "cpu: concurrent streams (closed loop)")
	flag.DurationVar(&f.duration, "duration", 10*time.Second, "cpu: measured window per cell")
	flag.DurationVar(&f.warmup, "warmup", 2*time.Second, "cpu: warm-up per cell")
	flag.IntVar(&f.rounds, "rounds", 3, "cpu: interleaved rounds")
	flag.StringVar(&f.dsgate, "dsgate", "", "dsgate binary (default: build the work tree)")
	flag.StringVar(&f.memLimit, "memlimit", "480MiB", "GOMEMLIMIT for the targets with the suffix -limited (which also bounds dsgate's connections from c100bb2 on)")
	flag.StringVar(&f.dsgateBefore, "dsgate-before", "", "dsgate binary for the targets bare-before and full-before (e.g. built from the commit before a change)")
	flag.StringVar(&f.nginx, "nginx", "/usr/sbin/nginx", "nginx binary")
	flag.StringVar(&f.out, "out", "bench/out/streams", "directory for logs and profiles")
	flag.IntVar(&f.proxyCPU, "proxy-cpu", 0, "CPU the proxy under test runs on")
	flag.IntVar(&f.loadCPU, "load-cpu", 1, "CPU the runner and the mock share; -1: not pinned (open phase with more streams than one core can feed)")
	flag.IntVar(&f.rampRate, "ramp", 2000, "open: streams started per second")
	flag.BoolVar(&f.profile, "profile", true, "open: save dsgate's heap and goroutine profiles with every stream open")
	flag.Parse()
	for _, s := range strings.Split(streams, ",") {
		var n int
		fmt.Sscan(s, &n)
		f.streams = append(f.streams, n)
	}
	f.targets = strings.Split(targets, ",")
	if err := run(&f); err != nil {
		log.Fatal(err)
	}
}

func run(f *flags) error {
	ctx := context.Background()
	// Each open stream holds a client and an upstream socket in the proxy:
	// children inherit the raised limit.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		log.Printf("RLIMIT_NOFILE %d", lim.Cur)
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	out, _ := filepath.Abs(f.out)
	f.out = out
	if f.dsgate == "" {
		bin, err := benchkit.BuildDsgate(ctx, f.out)
		if err != nil {
			return err
		}
		f.dsgate = bin
	}
	// The binaries run from copies (see benchkit.RunCopy).
	var err error
	if f.dsgate, err = benchkit.RunCopy(f.dsgate, f.out, "dsgate-run"); err != nil {
		return err
	}
	if f.dsgateBefore != "" {
		if f.dsgateBefore, err = benchkit.RunCopy(f.dsgateBefore, f.out, "dsgate-before-run"); err != nil {
			return err
		}
	}
	if f.loadCPU >= 0 {
		if err := benchkit.PinSelf(f.loadCPU); err != nil {
			log.Printf("not pinned: %v", err)
		}
	}
	switch f.phase {
	case "open":
		return runOpen(ctx, f)
	case "cpu":
		return runCPU(ctx, f)
	}
	return fmt.Errorf("unknown phase %q", f.phase)
}
