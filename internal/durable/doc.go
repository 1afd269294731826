// Package durable makes files durable (fsync) without stalling the
// gateway while the disk works.
//
// A goroutine in a system call keeps the scheduler's processor (P) until
// the runtime's monitor takes it back, which can be up to 10 ms after
// the call began (the monitor sleeps longer the longer it found nothing
// to take back). With GOMAXPROCS=1 (one
// CPU, or a container limited to one: Go sets GOMAXPROCS from the cgroup's
// CPU limit) every fsync of the audit trail then stopped every request for
// as long as the disk took: 0.2-3 ms, 80-160 times a second under load,
// and the gateway's core sat idle 6-10% of the time in bench/cpu's audit
// and full stages (bench/RESULTS.md, nineteenth session).
//
// Sync asks the kernel for the fsync through Linux AIO (IOCB_CMD_FSYNC,
// Linux 4.18 and later), which hands it to a kernel worker at once, and
// waits for its completion on an eventfd through the runtime's network
// poller: the goroutine parks and the P runs other goroutines meanwhile.
// It is the same fsync, with the same result and the same error; only the
// waiting differs. Where AIO is not available (another OS, a seccomp
// profile that refuses io_setup, aio-max-nr exhausted) or the file system
// has no asynchronous fsync, Sync is (*os.File).Sync.
//
// Linux AIO and not io_uring: Docker's and containerd's default seccomp
// profiles refuse io_uring but allow the AIO calls.
//
// What it costs: the fsync's kernel time is a kernel worker's (on the
// same CPU), not the process's. When the P never runs out of runnable
// goroutines, the runtime looks at the poller only every 10 ms, so a Sync
// then returns up to 10 ms after the disk is done, as a socket's read
// would (f.Sync returned at once, having held the P throughout): the audit
// trail's batches are then larger, its records on disk that much later.
// At most four syncs wait through the poller at once (the audit trail
// needs three); more at once are f.Sync. And an fsync the kernel cannot
// finish (a dead NFS server) makes the process's exit wait for it, where a
// killable fsync(2) would have let kill -9 end it.
package durable
