//go:build !race

package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"runtime/debug"
	"testing"
	"time"
)

// TestStreamStack: the goroutine that serves a stream never needs more
// than 8 KiB of stack, from the request's first byte to the stream's end:
// the dial of a new upstream connection, the relay's reads and writes and
// net/http's writing of the response's head included. A goroutine's stack
// only grows, by doubling, and the runtime gives back what a blocked
// goroutine does not use only below a quarter; so one deep call in a
// stream's life (a dial, the head's writing) was 16 KiB kept by every open
// stream for as long as it lasted: 8 KiB of the 47 KB an open stream cost
// (issue 22; bench/RESULTS.md).
//
// The limit is runtime/debug.SetMaxStack's, whose overflow ends the
// process with the goroutine's frames: the check runs in a child process
// (this test binary, TestStreamStackChild) and a failure shows them. Not
// with the race detector, whose instrumentation makes every frame bigger:
// scripts/test.sh runs it in its pass without -race.
func TestStreamStack(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestStreamStackChild$", "-test.v")
	cmd.Env = append(os.Environ(), "DSGATE_STREAM_STACK_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("a stream's goroutine needed more than 8 KiB of stack: %v\n%s", err, out)
	}
}

// TestStreamStackChild is TestStreamStack's child; run alone, it does
// nothing.
func TestStreamStackChild(t *testing.T) {
	if os.Getenv("DSGATE_STREAM_STACK_CHILD") == "" {
		return
	}
	for _, c := range []struct {
		name  string
		stage stage
		mock  *mockServer
	}{
		{"burst", stages[0], &mockServer{burst: true}},
		{"paced", stages[0], &mockServer{pace: 2 * time.Millisecond}},
		{"paced-renamed", stageNamed(t, "renamed"), &mockServer{pace: 2 * time.Millisecond}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := startStageWith(t, c.stage, c.mock)
			st.conn.Close() // unused: a connection that sent nothing holds the server's shutdown for 5 s
			// From the first request on: the first stream dials the
			// upstream. Each stream on a connection of its own, served
			// by a new goroutine.
			debug.SetMaxStack(8 << 10)
			defer debug.SetMaxStack(1 << 30)
			for i := range 3 {
				conn, err := net.Dial("tcp", st.addr)
				if err != nil {
					t.Fatal(err)
				}
				st.conn, st.rd = conn, bufio.NewReader(conn)
				st.do(t, true, i)
				conn.Close()
			}
		})
	}
}

func stageNamed(t *testing.T, name string) stage {
	for _, s := range stages {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no stage %s", name)
	return stage{}
}
