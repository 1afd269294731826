package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/dsgate/dsgate/internal/durable"
)

// tailLine returns the last complete line of a file of size bytes (without
// its newline) and the offset just past that line's newline. Bytes after it
// are a torn write. end is 0 when the file holds no complete line.
func tailLine(r io.ReaderAt, size int64) (line []byte, end int64, err error) {
	const chunk = 64 << 10
	var buf []byte
	pos := size
	for pos > 0 {
		n := min(int64(chunk), pos)
		pos -= n
		b := make([]byte, n, n+int64(len(buf)))
		if _, err := r.ReadAt(b, pos); err != nil && err != io.EOF {
			return nil, 0, fmt.Errorf("reading file tail: %w", err)
		}
		buf = append(b, buf...)
		last := bytes.LastIndexByte(buf, '\n')
		if last < 0 {
			continue
		}
		prev := bytes.LastIndexByte(buf[:last], '\n')
		if prev >= 0 || pos == 0 {
			return buf[prev+1 : last], pos + int64(last) + 1, nil
		}
	}
	return nil, 0, nil
}

// firstLine returns the first line of r, if complete.
func firstLine(r io.ReaderAt, size int64) ([]byte, error) {
	const chunk = 64 << 10
	var buf []byte
	for off := int64(0); off < size; off += chunk {
		b := make([]byte, min(int64(chunk), size-off))
		if _, err := r.ReadAt(b, off); err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading file head: %w", err)
		}
		buf = append(buf, b...)
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			return buf[:i], nil
		}
	}
	return nil, nil
}

// repairTail truncates a torn last line off f and returns the last complete
// record (ok false when none) and the new size.
func repairTail(f *os.File) (ev Event, ok bool, size int64, err error) {
	st, err := f.Stat()
	if err != nil {
		return Event{}, false, 0, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	line, end, err := tailLine(f, st.Size())
	if err != nil {
		return Event{}, false, 0, err
	}
	if end != st.Size() {
		if err := f.Truncate(end); err != nil {
			return Event{}, false, 0, fmt.Errorf("truncating torn record in %s: %w", f.Name(), err)
		}
		if err := durable.Sync(f); err != nil {
			return Event{}, false, 0, fmt.Errorf("syncing %s: %w", f.Name(), err)
		}
	}
	if end == 0 {
		return Event{}, false, 0, nil
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		return Event{}, false, 0, fmt.Errorf("decoding last record of %s: %w", f.Name(), err)
	}
	return ev, true, end, nil
}

// syncDir makes a create, rename or remove in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := durable.Sync(d); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
