// Command batchd is a test-only gateway that serves the Batch API over a
// SQLite store, disk blobs and one OpenAI-compatible upstream, so that the
// resume test can kill it with SIGKILL and start it again. It prints
// "listening <addr>" once it accepts requests.
//
//	batchd -db FILE -dir DIR -upstream URL [-workers N]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/batch"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/store/sqlite"
	"github.com/dsgate/dsgate/internal/upstream"
)

func main() {
	db := flag.String("db", "", "SQLite file")
	dir := flag.String("dir", "", "blob directory")
	up := flag.String("upstream", "", "upstream URL")
	workers := flag.Int("workers", 4, "worker pool size")
	flag.Parse()
	if err := run(*db, *dir, *up, *workers); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(db, dir, up string, workers int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := sqlite.Open(ctx, db, sqlite.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	blobs, err := batch.NewDisk(dir)
	if err != nil {
		return err
	}
	u := upstream.New(upstream.Options{Name: "sim", Kind: upstream.KindOpenAI, URL: up,
		FirstTokenTimeout: 30 * time.Second, IdleTimeout: 10 * time.Second})
	pool := upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "deepseek-chat"}}, &upstream.RoundRobin{}, upstream.DefaultRules())
	gw := gateway.New(gateway.Options{Routes: []gateway.Route{{Name: "deepseek-chat", Pool: pool}}})
	exec := &batch.Executor{Pipeline: pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return gw },
		Access: access.New(access.Options{Disabled: true})})}
	m := batch.NewManager(batch.Options{Store: st, Blobs: blobs, Exec: exec, Workers: workers,
		PollInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	fmt.Printf("listening %s\n", ln.Addr())
	err = m.Run(ctx)
	srv.Close()
	return err
}
