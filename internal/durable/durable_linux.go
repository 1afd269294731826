//go:build linux && (amd64 || arm64)

package durable

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// iocb is struct iocb of linux/aio_abi.h on a little-endian machine; the
// fields an fsync leaves zero are blank: aio_data, aio_key, aio_rw_flags,
// then aio_reqprio, and aio_buf, aio_nbytes, aio_offset, aio_reserved2.
type iocb struct {
	_      uint64
	_      uint32
	_      int32
	opcode uint16
	_      int16
	fildes uint32
	_      [4]uint64
	flags  uint32
	resfd  uint32
}

// ioEvent is struct io_event.
type ioEvent struct {
	data, obj uint64
	res, res2 int64
}

const (
	iocbCmdFsync  = 2
	iocbFlagResfd = 1 << 0
	// maxSlots bounds the slots (AIO contexts, eventfds) the process
	// makes: the audit trail's spool, sink and cursor sync at once at
	// most, with a batch upload besides. A Sync that finds them all busy
	// is f.Sync. They live as long as the process: io_destroy waits for
	// RCU grace periods (30-50 ms measured), never on a Sync's path.
	maxSlots = 4
)

// slot is one AIO context and the eventfd its completions are signalled
// on. A Sync takes a slot for itself: one request in flight per slot.
type slot struct {
	ctx    uintptr
	efd    *os.File // non-blocking: read through the poller
	fd     uintptr  // efd's descriptor
	broken bool     // the ring is in an unknown state: closed, not kept
	// What the kernel reads and writes, here on the heap where nothing
	// moves it: the request, the array io_submit reads its address from,
	// the completion and a zero timeout.
	cb   iocb
	cbs  [1]*iocb
	ev   ioEvent
	zero unix.Timespec
}

var (
	slotsMu sync.Mutex
	idle    []*slot // free slots
	made    int     // slots made and not discarded
	// off is set once AIO is refused here outright (io_setup or eventfd:
	// ENOSYS, EPERM from a seccomp profile, EINVAL): every Sync after it
	// is f.Sync. A passing shortage (EAGAIN: aio-max-nr, shared by the
	// host, used up; EMFILE; ENOMEM) costs that one Sync only.
	off atomic.Bool
	// waited counts the Syncs that waited through the poller; for tests.
	waited atomic.Int64
)

// async reports whether Sync waits through the poller here.
func async() bool { return !off.Load() }

func syncFile(f *os.File) error {
	if done, err := syncAsync(f); done {
		return err
	}
	return f.Sync()
}

// syncAsync syncs f through AIO; done is false when it could not (AIO
// refused, every slot busy, f closed, the request refused by the kernel)
// and nothing was done: then f.Sync does it, or says what is wrong.
func syncAsync(f *os.File) (done bool, err error) {
	if off.Load() {
		return false, nil
	}
	s, err := take()
	if err != nil && refused(err) {
		off.Store(true)
	}
	if s == nil {
		return false, nil
	}
	defer put(s)
	rc, err := f.SyscallConn()
	if err != nil {
		return false, nil
	}
	// Control holds the descriptor open until the fsync is done.
	if cerr := rc.Control(func(fd uintptr) { done, err = s.fsync(fd) }); cerr != nil || !done {
		return false, nil
	}
	if err != nil {
		return true, &os.PathError{Op: "sync", Path: f.Name(), Err: err}
	}
	return true, nil
}

// fsync submits an fsync of fd and waits for its result. taken is false
// when the kernel refused the request (EINVAL: a file system without an
// asynchronous fsync): nothing was done.
func (s *slot) fsync(fd uintptr) (taken bool, err error) {
	s.cb = iocb{fildes: uint32(fd), opcode: iocbCmdFsync, flags: iocbFlagResfd, resfd: uint32(s.fd)}
	s.cbs[0] = &s.cb
	n, _, e := unix.Syscall(unix.SYS_IO_SUBMIT, s.ctx, 1, uintptr(unsafe.Pointer(&s.cbs[0])))
	runtime.KeepAlive(s)
	if e != 0 || n != 1 {
		return false, nil
	}
	// The eventfd becomes readable once the completion is in the ring;
	// the read parks this goroutine in the poller meanwhile. Should the
	// read fail, the kernel waits instead (holding the P, as f.Sync
	// would).
	var b [8]byte
	_, rerr := s.efd.Read(b[:])
	err = s.reap(rerr != nil)
	if rerr != nil {
		s.broken = true // its eventfd may hold this completion's count: not used again
	} else if !s.broken {
		waited.Add(1)
	}
	return true, err
}

// reap takes the one completed request from the ring and returns its
// result: without waiting when the eventfd said it is there, else
// waiting for it in the kernel.
func (s *slot) reap(wait bool) error {
	timeout := uintptr(unsafe.Pointer(&s.zero))
	if wait {
		timeout = 0 // none: until it completes
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_IO_GETEVENTS, s.ctx, 1, 1, uintptr(unsafe.Pointer(&s.ev)), timeout, 0)
		runtime.KeepAlive(s)
		switch {
		case e == unix.EINTR:
			continue
		case e != 0:
			s.broken = true
			return e
		case n == 0:
			timeout = 0 // signalled but not yet visible: wait for it
			continue
		}
		if s.ev.res < 0 {
			return syscall.Errno(-s.ev.res)
		}
		return nil
	}
}

// take returns a free slot, a new one while fewer than maxSlots exist,
// or nil when they are all busy.
func take() (*slot, error) {
	slotsMu.Lock()
	if n := len(idle); n > 0 {
		s := idle[n-1]
		idle = idle[:n-1]
		slotsMu.Unlock()
		return s, nil
	}
	if made >= maxSlots {
		slotsMu.Unlock()
		return nil, nil
	}
	made++ // reserved: given back below if the slot cannot be made
	slotsMu.Unlock()
	s, err := makeSlot()
	if err != nil {
		slotsMu.Lock()
		made--
		slotsMu.Unlock()
		return nil, err
	}
	return s, nil
}

// makeSlot is newSlot; tests replace it.
var makeSlot = newSlot

func newSlot() (*slot, error) {
	var ctx uintptr
	if _, _, e := unix.Syscall(unix.SYS_IO_SETUP, 1, uintptr(unsafe.Pointer(&ctx)), 0); e != 0 {
		return nil, e
	}
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		go destroy(ctx)
		return nil, err
	}
	return &slot{ctx: ctx, efd: os.NewFile(uintptr(fd), "aio-eventfd"), fd: uintptr(fd)}, nil
}

// refused reports whether err, from making a slot, means AIO is not to
// be had here at all (not a passing shortage).
func refused(err error) bool {
	return errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL)
}

// put gives s back. A broken slot is discarded, its context destroyed on
// a goroutine of its own (io_destroy waits for the context's last
// references), and another may be made in its place.
func put(s *slot) {
	slotsMu.Lock()
	if s.broken {
		made--
		slotsMu.Unlock()
		s.efd.Close()
		go destroy(s.ctx)
		return
	}
	idle = append(idle, s)
	slotsMu.Unlock()
}

func destroy(ctx uintptr) { unix.Syscall(unix.SYS_IO_DESTROY, ctx, 0, 0) }
