package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Writer is the asynchronous, lossless audit pipeline:
//
//	Record -> bounded queue -> sequencer (seal: seq, prev_hash, hash)
//	       -> disk spool (fsync per batch) -> one deliverer per sink
//	       -> Sink.Write, cursor persisted after each acknowledged batch
//
// Record never blocks. Each sink gets every spooled record in order; a sink
// that is down makes records wait on disk, not in memory. After a restart
// the new Writer continues the chain and each sink's delivery from disk.
type Writer struct {
	opts Options
	log  *slog.Logger
	// in holds pooled events: a channel of QueueSize Event values (about
	// 430 bytes each) kept 3.5 MB resident and scanned by every collection
	// at the default 8192, full or empty.
	in    chan *Event
	spool *spool
	chain chainState // owned by the sequencer (by Close once Run returned)
	// lineBytes is what the sequencer reserves a record's line: the last
	// batch's mean line and some room (a fixed guess too small had every
	// batch's buffer grown by doubling, its old copies garbage: some 5% of
	// the full pipeline's).
	lineBytes int
	dels      []*deliverer

	closed   atomic.Bool
	inflight atomic.Int64
	stop     chan struct{}

	runMu   sync.Mutex
	running bool
	ending  bool
	runDone chan struct{}

	closeOnce sync.Once
	closeErr  error

	accepted atomic.Uint64
	spooled  atomic.Uint64
	lastSeq  atomic.Uint64
	dropped  map[string]*atomic.Uint64 // by drop reason; the map is never written after New
}

type deliverer struct {
	name      string
	sink      Sink
	pos       position
	wake      chan struct{}
	delivered atomic.Uint64
	errors    atomic.Uint64
	failing   bool      // last attempt failed; only the deliverer's goroutine touches it
	acked     uint64    // last seq the sink accepted
	savedSeq  uint64    // last seq made durable in the cursor file
	saved     time.Time // when the cursor was last made durable
}

// New opens the spool, recovers the chain head and each sink's cursor, and
// returns a Writer. Call Run to deliver and Close to flush.
func New(opts Options) (*Writer, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	names := make([]string, len(opts.Sinks))
	for i, s := range opts.Sinks {
		names[i] = s.Name
	}
	sp, err := openSpool(opts.SpoolDir, opts.SegmentBytes, names)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	w := &Writer{
		opts:    opts,
		log:     opts.Logger,
		in:      make(chan *Event, opts.QueueSize),
		spool:   sp,
		stop:    make(chan struct{}),
		runDone: make(chan struct{}),
		dropped: map[string]*atomic.Uint64{},
	}
	for _, r := range []string{DropQueueFull, DropSpoolFull, DropOldestSeg, DropClosed, DropSpoolError} {
		w.dropped[r] = new(atomic.Uint64)
	}
	w.chain = w.recoverHead()
	w.lastSeq.Store(w.chain.seq)
	for _, s := range opts.Sinks {
		d := &deliverer{name: s.Name, sink: s.Sink, wake: make(chan struct{}, 1)}
		d.pos = sp.startPosition(sp.cursor(s.Name))
		w.dels = append(w.dels, d)
	}
	w.publishDepth()
	return w, nil
}

// recoverHead continues the chain from the spool, else from the highest
// sink tail (a new spool directory next to an existing audit file), else
// starts a new chain at the anchor.
func (w *Writer) recoverHead() chainState {
	if !w.spool.empty() {
		return w.spool.headState()
	}
	head := chainState{hash: w.opts.Anchor}
	for _, s := range w.opts.Sinks {
		if t, ok := s.Sink.(Tailer); ok {
			if seq, hash, ok := t.Tail(); ok && seq > head.seq {
				head = chainState{seq: seq, hash: hash}
			}
		}
	}
	return head
}

// Record queues ev and returns at once. ID is filled when empty. When the
// queue is full or the Writer is closed the event is dropped and counted.
// Safe for concurrent use.
func (w *Writer) Record(ev Event) {
	w.inflight.Add(1)
	defer w.inflight.Add(-1)
	if w.closed.Load() {
		w.drop(DropClosed, 1)
		return
	}
	if ev.ID == "" {
		ev.ID = NewID(w.opts.Now())
	}
	p := queued.Get().(*Event)
	*p = ev
	select {
	case w.in <- p:
		w.accepted.Add(1)
	default:
		release(p)
		w.drop(DropQueueFull, 1)
	}
}

// queued are the Events the queue holds, reused.
var queued = sync.Pool{New: func() any { return new(Event) }}

// take returns a queued event's value and gives the Event back to the pool.
func take(p *Event) Event {
	ev := *p
	release(p)
	return ev
}

func release(p *Event) {
	*p = Event{} // no strings kept alive in the pool
	queued.Put(p)
}

func (w *Writer) drop(reason string, n uint64) {
	if n == 0 {
		return
	}
	w.dropped[reason].Add(n)
	if w.opts.Metrics.Dropped != nil {
		w.opts.Metrics.Dropped.WithLabelValues(reason).Add(float64(n))
	}
}

// Run seals and spools queued records and delivers them to the sinks until
// ctx is done or Close is called. It returns nil on a normal stop; Close
// must still be called to flush. Run may be called once.
func (w *Writer) Run(ctx context.Context) error {
	w.runMu.Lock()
	if w.running || w.ending {
		w.runMu.Unlock()
		return errors.New("audit: Run called twice or after Close")
	}
	w.running = true
	w.runMu.Unlock()
	defer close(w.runDone)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-w.stop:
			cancel()
		case <-ctx.Done():
		}
	})
	wg.Go(func() { w.guard("sequencer", func() { w.sequenceLoop(ctx) }) })
	for _, d := range w.dels {
		wg.Go(func() { w.guard("deliverer "+d.name, func() { w.deliverLoop(ctx, d) }) })
	}
	wg.Wait()
	return nil
}

// guard logs a panic in a background loop instead of crashing the gateway.
func (w *Writer) guard(name string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("audit loop panicked", "loop", name, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	f()
}

// sequenceLoop seals and spools records in batches. After the first
// record of a batch it sleeps for Linger while more queue up, then drains
// them: one fsync covers many records under load (group commit), and the
// loop is not woken once per record.
func (w *Writer) sequenceLoop(ctx context.Context) {
	batch := make([]Event, 0, w.opts.BatchSize)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-w.in:
			batch = append(batch[:0], take(p))
		}
		linger.Reset(w.opts.Linger)
		select {
		case <-linger.C:
		case <-ctx.Done():
			linger.Stop()
		}
	drain:
		for len(batch) < w.opts.BatchSize {
			select {
			case p := <-w.in:
				batch = append(batch, take(p))
			default:
				break drain
			}
		}
		w.sequence(batch)
	}
}

// sequence prepares, seals and spools one batch, applying the full policy,
// then wakes the deliverers. A batch that would overflow the active segment
// is written in parts so that segments rotate (drop_oldest needs that).
func (w *Writer) sequence(batch []Event) {
	sealed := make([]Event, 0, len(batch))
	if w.lineBytes == 0 {
		w.lineBytes = 640
	}
	buf := make([]byte, 0, w.lineBytes*len(batch))
	lines, size := 0, 0
	head := w.chain
	segRoom := w.opts.SegmentBytes - w.spool.activeSize()
	for _, ev := range batch {
		ev = w.prepare(ev)
		next := head.seal(ev, w.opts.ChainID)
		mark := len(buf)
		buf = next.appendJSON(buf)
		buf = append(buf, '\n')
		line := buf[mark:]
		if mark > 0 && int64(len(buf)) > segRoom {
			w.commit(sealed, buf[:mark], head)
			// After a failed commit the chain resumes from the committed head.
			head = w.chain
			next = head.seal(ev, w.opts.ChainID)
			sealed, segRoom = make([]Event, 0, len(batch)), w.opts.SegmentBytes
			buf = next.appendJSON(make([]byte, 0, w.lineBytes*len(batch)))
			buf = append(buf, '\n')
			line = buf
		}
		if !w.makeRoom(int64(len(buf))) {
			w.drop(DropSpoolFull, 1)
			buf = buf[:len(buf)-len(line)]
			continue
		}
		next.raw = line[: len(line)-1 : len(line)-1]
		lines, size = lines+1, size+len(line)
		sealed = append(sealed, next)
		head = chainState{seq: next.Seq, hash: next.Hash}
	}
	w.commit(sealed, buf, head)
	if lines > 0 {
		w.lineBytes = size/lines + 64
	}
}

// commit appends sealed records to the spool and advances the chain head;
// on a spool error it drops and counts them.
func (w *Writer) commit(sealed []Event, buf []byte, head chainState) {
	if len(sealed) == 0 {
		return
	}
	if err := w.spool.append(sealed, buf); err != nil {
		// Nothing was committed: the chain head stays where it was.
		w.log.Error("audit spool write failed; records dropped", "records", len(sealed), "err", err)
		w.drop(DropSpoolError, uint64(len(sealed)))
		return
	}
	w.chain = head
	w.lastSeq.Store(head.seq)
	w.spooled.Add(uint64(len(sealed)))
	for _, d := range w.dels {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	w.publishDepth()
}

// makeRoom reports whether n more bytes fit in the spool, dropping old
// segments first under DropOldest.
func (w *Writer) makeRoom(n int64) bool {
	for !w.spool.fits(n, w.opts.MaxSpoolBytes) {
		if w.opts.FullPolicy != DropOldest {
			return false
		}
		lost, ok, err := w.spool.dropOldest()
		if err != nil {
			w.log.Error("audit spool cannot drop its oldest segment", "err", err)
			return false
		}
		if !ok {
			return false
		}
		w.drop(DropOldestSeg, lost)
		w.log.Warn("audit spool full: dropped oldest segment", "undelivered_records", lost)
	}
	return true
}

// prepare hashes bodies, strips or redacts them, and normalises times.
func (w *Writer) prepare(ev Event) Event {
	if ev.InputSHA256 == "" && ev.Input != "" {
		ev.InputSHA256 = HashText(ev.Input)
	}
	if ev.OutputSHA256 == "" && ev.Output != "" {
		ev.OutputSHA256 = HashText(ev.Output)
	}
	switch {
	case !w.opts.IncludeBodies:
		ev.Input, ev.Output = "", ""
	case w.opts.Redact != nil:
		ev.Input, ev.Output = w.opts.Redact(ev.Input), w.opts.Redact(ev.Output)
	}
	if ev.RequestAt.IsZero() {
		ev.RequestAt = w.opts.Now()
	}
	ev.RequestAt = ev.RequestAt.UTC()
	if !ev.ResponseAt.IsZero() {
		ev.ResponseAt = ev.ResponseAt.UTC()
	}
	return ev
}

func (w *Writer) deliverLoop(ctx context.Context, d *deliverer) {
	backoff := time.Duration(0)
	for {
		n, err := w.deliverOnce(d, w.opts.WriteTimeout, false)
		switch {
		case err != nil:
			backoff = min(max(2*backoff, w.opts.RetryMin), w.opts.RetryMax)
			if !waitOrDone(ctx, backoff, nil) {
				return
			}
		case n == 0:
			backoff = 0
			idle := time.Duration(0) // until woken
			if d.acked != d.savedSeq {
				idle = w.opts.CursorEvery // then save the cursor
			}
			if !waitOrDone(ctx, idle, d.wake) {
				return
			}
		default:
			backoff = 0
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// waitOrDone waits for d (when > 0) or wake (when not nil); false if ctx ended.
func waitOrDone(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-timer:
		return true
	case <-wake:
		return true
	}
}

// deliverOnce sends the next batch to one sink and advances its cursor,
// making it durable when final is set or CursorEvery has passed. It
// returns how many records were delivered.
func (w *Writer) deliverOnce(d *deliverer, timeout time.Duration, final bool) (int, error) {
	evs, pos, err := w.spool.read(d.pos, w.opts.BatchSize)
	if err != nil {
		w.sinkFailed(d, fmt.Errorf("reading spool: %w", err))
		return 0, err
	}
	if len(evs) == 0 {
		d.pos = pos
		return 0, w.saveCursor(d, final)
	}
	// The write is not tied to Run's ctx: cancelling an acknowledged write
	// mid-flight would only cause a duplicate re-send.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err = d.sink.Write(ctx, evs)
	cancel()
	if err != nil {
		w.sinkFailed(d, err)
		return 0, err
	}
	d.pos, d.acked = pos, evs[len(evs)-1].Seq
	if err := w.saveCursor(d, final); err != nil {
		// Delivered but the cursor is not durable: the records may be sent
		// again after a restart, which sinks absorb by id/seq.
		w.log.Error("audit cursor not saved", "sink", d.name, "err", err)
	}
	n := len(evs)
	d.delivered.Add(uint64(n))
	if m := w.opts.Metrics.Delivered; m != nil {
		m.WithLabelValues(d.name).Add(float64(n))
	}
	if d.failing {
		d.failing = false
		w.log.Info("audit sink recovered", "sink", d.name)
	}
	w.publishDepth()
	return n, nil
}

// saveCursor makes d's delivered position durable, at most every
// CursorEvery unless final.
func (w *Writer) saveCursor(d *deliverer, final bool) error {
	if d.acked == d.savedSeq {
		return nil
	}
	if !final && time.Since(d.saved) < w.opts.CursorEvery {
		w.spool.markDelivered(d.name, d.acked)
		return nil
	}
	if s, ok := d.sink.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil { // the cursor must not pass what is not durable
			return err
		}
	}
	if err := w.spool.ack(d.name, d.acked); err != nil {
		return err
	}
	d.saved, d.savedSeq = time.Now(), d.acked
	return nil
}

func (w *Writer) sinkFailed(d *deliverer, err error) {
	d.errors.Add(1)
	if m := w.opts.Metrics.SinkErrors; m != nil {
		m.WithLabelValues(d.name).Inc()
	}
	if !d.failing {
		d.failing = true
		w.log.Warn("audit sink failing; records wait in the spool", "sink", d.name, "err", err)
	}
}

func (w *Writer) publishDepth() {
	if g := w.opts.Metrics.QueueDepth; g != nil {
		g.Set(float64(uint64(len(w.in)) + w.spool.pending()))
	}
}

// Close stops intake, spools what is queued, delivers for up to
// FlushTimeout, closes the sinks and the spool. It returns ErrUndelivered
// (wrapped) when some sink still has records waiting; they stay on disk for
// the next Writer. Close waits for Run to return.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() { w.closeErr = w.close() })
	return w.closeErr
}

func (w *Writer) close() error {
	w.closed.Store(true)
	for w.inflight.Load() > 0 { // a Record that passed the closed check finishes its send
		runtime.Gosched()
	}
	w.runMu.Lock()
	w.ending = true
	running := w.running
	w.runMu.Unlock()
	close(w.stop)
	if running {
		<-w.runDone
	}
	for len(w.in) > 0 {
		batch := make([]Event, 0, w.opts.BatchSize)
		for len(batch) < w.opts.BatchSize && len(w.in) > 0 {
			batch = append(batch, take(<-w.in))
		}
		w.sequence(batch)
	}
	errs := []error{w.flush()}
	for _, d := range w.dels {
		if err := d.sink.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing audit sink %s: %w", d.name, err))
		}
	}
	errs = append(errs, w.spool.close())
	return errors.Join(errs...)
}

// flush delivers what is left to every sink in parallel until done or
// FlushTimeout.
func (w *Writer) flush() error {
	deadline := time.Now().Add(w.opts.FlushTimeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var wg sync.WaitGroup
	for _, d := range w.dels {
		wg.Go(func() {
			backoff := time.Duration(0)
			for ctx.Err() == nil {
				n, err := w.deliverOnce(d, min(w.opts.WriteTimeout, time.Until(deadline)), true)
				if err == nil && n == 0 {
					return
				}
				if err != nil {
					backoff = min(max(2*backoff, w.opts.RetryMin), w.opts.RetryMax)
					waitOrDone(ctx, backoff, nil)
				}
			}
		})
	}
	wg.Wait()
	var errs []error
	for _, d := range w.dels {
		if n := w.spool.pendingFor(d.name); n > 0 {
			errs = append(errs, fmt.Errorf("audit sink %s: %d records: %w", d.name, n, ErrUndelivered))
		}
	}
	return errors.Join(errs...)
}
