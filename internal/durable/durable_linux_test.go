//go:build linux && (amd64 || arm64)

package durable

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// diskDir is a directory on a disk: fsync on tmpfs does nothing, and a
// test that needs one to take time cannot use it.
func diskDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if onTmpfs(dir) {
		base, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		if dir, err = os.MkdirTemp(base, "dsgate-synctest"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if onTmpfs(dir) {
			t.Fatalf("neither %s nor %s is on a disk: fsync there does nothing to wait for", os.TempDir(), base)
		}
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
	dir := diskDir(t)
	probe, err := os.Create(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	err = Sync(probe) // sets off where AIO is refused
	probe.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !async() {
		t.Fatal("Linux AIO is refused on this machine (io_setup or eventfd failed): Sync cannot wait through the poller")
	}
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

// emptyPool gives a test a pool with no slot made, and puts the old one
// back after.
func emptyPool(t *testing.T) {
	slotsMu.Lock()
	was, wasMade := idle, made
	idle, made = nil, 0
	slotsMu.Unlock()
	t.Cleanup(func() {
		slotsMu.Lock()
		for _, s := range idle {
			s.efd.Close()
			go destroy(s.ctx)
		}
		idle, made = was, wasMade
		slotsMu.Unlock()
	})
}

// More Syncs at once than slots, each file synced again and again: every
// one succeeds, no more slots are made (nor any destroyed on the way:
// io_destroy takes tens of milliseconds), the others sync as f.Sync does.
func TestSyncSlotsBounded(t *testing.T) {
	emptyPool(t)
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 32*10)
	for i := range 32 {
		wg.Go(func() {
			f, err := os.Create(filepath.Join(dir, "f"+strconv.Itoa(i)))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for range 10 {
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
	n, free := made, len(idle)
	slotsMu.Unlock()
	if n > maxSlots || free != n {
		t.Fatalf("%d slots made, %d free after; want at most %d, all free", n, free, maxSlots)
	}
}

// A passing shortage (too many open files, aio-max-nr used up) costs one
// Sync its wait through the poller, not every later one; a refusal
// (seccomp's EPERM, no AIO in the kernel) turns AIO off.
func TestSyncShortageIsNotRefusal(t *testing.T) {
	emptyPool(t)
	wasOff := off.Load()
	t.Cleanup(func() { makeSlot = newSlot; off.Store(wasOff) })
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, e := range []unix.Errno{unix.EMFILE, unix.EAGAIN, unix.ENOMEM} {
		makeSlot = func() (*slot, error) { return nil, e }
		if err := Sync(f); err != nil {
			t.Fatalf("Sync with slots short (%v): %v", e, err)
		}
		if off.Load() {
			t.Fatalf("%v turned AIO off for good", e)
		}
	}
	makeSlot = newSlot
	before := waited.Load()
	if err := Sync(f); err != nil {
		t.Fatal(err)
	}
	if waited.Load() != before+1 {
		t.Fatal("after the shortage, Sync did not wait through the poller again")
	}
	makeSlot = func() (*slot, error) { return nil, unix.EPERM }
	emptyPool(t)
	if err := Sync(f); err != nil {
		t.Fatal(err)
	}
	if !off.Load() {
		t.Fatal("EPERM from io_setup did not turn AIO off")
	}
}

// The request's layout is the kernel's: 64 bytes, the descriptor at 20,
// the flags at 56 and the eventfd at 60.
func TestIocbLayout(t *testing.T) {
	var cb iocb
	if size, fd, flags, resfd := unsafe.Sizeof(cb), unsafe.Offsetof(cb.fildes), unsafe.Offsetof(cb.flags), unsafe.Offsetof(cb.resfd); size != 64 || fd != 20 || flags != 56 || resfd != 60 {
		t.Fatalf("iocb: size %d, fildes at %d, flags at %d, resfd at %d; want 64, 20, 56, 60", size, fd, flags, resfd)
	}
	if off := unsafe.Offsetof(cb.opcode); off != 16 {
		t.Fatalf("aio_lio_opcode at %d, want 16", off)
	}
}
