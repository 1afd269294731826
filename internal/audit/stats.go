package audit

// Stats is a snapshot of the Writer's counters.
type Stats struct {
	QueueDepth int    // records in the in-memory queue
	Pending    uint64 // records spooled and not yet delivered to every sink
	SpoolBytes int64
	LastSeq    uint64 // sequence number of the chain head
	Accepted   uint64 // Record calls that queued their event
	Spooled    uint64 // records sealed and written to the spool
	Dropped    map[string]uint64
	Sinks      []SinkStats
}

// SinkStats is one sink's delivery state.
type SinkStats struct {
	Name      string
	Cursor    uint64 // last acknowledged seq
	Delivered uint64 // records delivered by this Writer
	Errors    uint64 // failed write attempts
}

// DroppedTotal sums Dropped over all reasons.
func (s Stats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// Stats returns current counters. Safe for concurrent use.
func (w *Writer) Stats() Stats {
	st := Stats{
		QueueDepth: len(w.in),
		Pending:    w.spool.pending(),
		SpoolBytes: w.spool.bytes(),
		LastSeq:    w.lastSeq.Load(),
		Accepted:   w.accepted.Load(),
		Spooled:    w.spooled.Load(),
		Dropped:    map[string]uint64{},
	}
	for r, n := range w.dropped {
		st.Dropped[r] = n.Load()
	}
	for _, d := range w.dels {
		st.Sinks = append(st.Sinks, SinkStats{
			Name: d.name, Cursor: w.spool.cursor(d.name),
			Delivered: d.delivered.Load(), Errors: d.errors.Load(),
		})
	}
	return st
}
