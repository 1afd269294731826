//go:build linux && (amd64 || arm64)

package durable

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// diskDir is a directory on a disk: fsync on tmpfs does nothing, and a
// test that needs one to take time cannot use it.
func diskDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if onTmpfs(dir) {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		if dir, err = os.MkdirTemp(wd, "synctest"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	return dir
}

func TestSyncIsFileSync(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("durable\n"); err != nil {
		t.Fatal(err)
	}
	before := waited.Load()
	if err := Sync(f); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if async() && waited.Load() != before+1 {
		t.Fatalf("the Sync did not wait through the poller (waited %d -> %d)", before, waited.Load())
	}
	b, err := os.ReadFile(f.Name())
	if err != nil || string(b) != "durable\n" {
		t.Fatalf("file holds %q, %v", b, err)
	}

	// A directory (a create or rename in it made durable, as the audit
	// spool does) syncs the same way.
	d, err := os.Open(filepath.Dir(f.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	before = waited.Load()
	if err := Sync(d); err != nil {
		t.Fatalf("Sync of a directory: %v", err)
	}
	if async() && waited.Load() != before+1 {
		t.Fatal("the directory's Sync did not wait through the poller")
	}

	// What f.Sync refuses, Sync refuses the same way.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	want, got := null.Sync(), Sync(null)
	if (want == nil) != (got == nil) || want != nil && !errors.Is(got, errors.Unwrap(want)) {
		t.Fatalf("Sync(%s) = %v, f.Sync = %v", os.DevNull, got, want)
	}
	f.Close()
	if err := Sync(f); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Sync of a closed file = %v, want os.ErrClosed", err)
	}
}

// While the disk works, the syncing goroutine waits in the poller ("IO
// wait"), not in a system call holding the P ("syscall"), which is what
// f.Sync does and what stalled a one-CPU gateway at every audit fsync.
// (io_submit itself may be seen: the kernel worker that runs the fsync
// can preempt it on its CPU while it writes the pages out.)
func TestSyncParksWhileTheDiskWorks(t *testing.T) {
	if !async() {
		t.Fatal("Linux AIO is refused on this machine (io_setup or eventfd failed): Sync cannot wait through the poller")
	}
	dir := diskDir(t)
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	var seen []string
	for attempt := 1; attempt <= 5; attempt++ {
		f, err := os.Create(filepath.Join(dir, "big"))
		if err != nil {
			t.Fatal(err)
		}
		for range 32 * attempt { // dirty pages for the fsync to write
			if _, err := f.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() { done <- Sync(f) }()
		for waiting := true; waiting; {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				waiting = false
			default:
				if state := syncState(); state != "" && (len(seen) == 0 || seen[len(seen)-1] != state) {
					seen = append(seen, state)
				}
				runtime.Gosched()
			}
		}
		f.Close()
		if slices.Contains(seen, "IO wait") {
			return
		}
	}
	t.Fatalf("the syncing goroutine was seen as %q, never in \"IO wait\"", seen)
}

// syncState is the state of a goroutine inside Sync ("IO wait",
// "syscall", ...), or "" when none is seen.
func syncState() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if !strings.Contains(g, "durable.syncFile") {
			continue
		}
		head, _, _ := strings.Cut(g, "\n")
		_, state, ok := strings.Cut(head, " [")
		if !ok {
			return ""
		}
		state, _, _ = strings.Cut(state, "]")
		state, _, _ = strings.Cut(state, ",")
		if state == "runnable" || state == "running" {
			return "" // not waiting yet
		}
		return state
	}
	return ""
}

func TestSyncConcurrent(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 16*20)
	for i := range 16 {
		wg.Go(func() {
			f, err := os.Create(filepath.Join(dir, "f"+string(rune('a'+i))))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for range 20 {
				f.WriteString("line\n")
				if err := Sync(f); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slotsMu.Lock()
	kept := len(slots)
	slotsMu.Unlock()
	if kept > keepSlots {
		t.Fatalf("%d idle slots kept, want <= %d", kept, keepSlots)
	}
}

// Where AIO is refused, Sync is f.Sync.
func TestSyncWithoutAIO(t *testing.T) {
	was := off.Swap(true)
	defer off.Store(was)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := waited.Load()
	if err := Sync(f); err != nil {
		t.Fatal(err)
	}
	if waited.Load() != before {
		t.Fatal("Sync waited through the poller with AIO off")
	}
}

func onTmpfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC
}
