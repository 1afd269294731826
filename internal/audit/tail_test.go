package audit

import (
	"bytes"
	"testing"
)

// Issue 22: the spool's tail cache is bounded by bytes, not batches: 64
// batches of up to 512 records held 30-40 MB under load. Deliverers that
// keep up still find the newest batch there.
func TestSpoolTailBoundedByBytes(t *testing.T) {
	sp, err := openSpool(t.TempDir(), 1<<30, []string{"file"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.close() })
	line := append(bytes.Repeat([]byte("x"), 1023), '\n')
	seq := uint64(0)
	for range 200 { // 200 batches of 64 one-KiB records: 12.5 MiB
		evs := make([]Event, 64)
		buf := make([]byte, 0, 64*len(line))
		for i := range evs {
			seq++
			evs[i] = Event{Seq: seq}
			buf = append(buf, line...)
		}
		if err := sp.append(evs, buf); err != nil {
			t.Fatal(err)
		}
	}
	var held int64
	for _, b := range sp.tail {
		held += b.end - b.off
	}
	if held != sp.tailSize || held > tailBytes {
		t.Errorf("tail holds %d bytes (counted %d), bound %d", held, sp.tailSize, tailBytes)
	}
	last := sp.tail[len(sp.tail)-1]
	if _, _, ok := sp.fromTail(position{seg: last.seg, off: last.off, next: last.evs[0].Seq}, 512); !ok {
		t.Error("the newest batch is not in the tail")
	}
}

// Every batch in the tail is found at its position, whatever the batches
// around it (fromTail looks from the newest back), and a position inside
// a batch or past the newest finds none.
func TestSpoolTailFindsEveryBatch(t *testing.T) {
	sp, err := openSpool(t.TempDir(), 1<<30, []string{"file"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.close() })
	seq := uint64(0)
	for n := range 300 { // batches of 1 to 3 records
		evs := make([]Event, 1+n%3)
		var buf []byte
		for i := range evs {
			seq++
			evs[i] = Event{Seq: seq}
			buf = append(buf, "{}\n"...)
		}
		if err := sp.append(evs, buf); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range sp.tail {
		evs, end, ok := sp.fromTail(position{seg: b.seg, off: b.off, next: b.evs[0].Seq}, 512)
		if !ok || end != b.end || evs[0].Seq != b.evs[0].Seq || len(evs) != len(b.evs) {
			t.Fatalf("batch at %d: got %d records ending at %d (%v), want %d ending at %d", b.off, len(evs), end, ok, len(b.evs), b.end)
		}
		if _, _, ok := sp.fromTail(position{seg: b.seg, off: b.off + 1, next: b.evs[0].Seq}, 512); ok {
			t.Fatalf("a batch found inside the one at %d", b.off)
		}
	}
	last := sp.tail[len(sp.tail)-1]
	if _, _, ok := sp.fromTail(position{seg: last.seg, off: last.end, next: seq + 1}, 512); ok {
		t.Error("a batch found past the newest")
	}
}
