package modelcrypt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	bigSize  = 2 << 30
	bigBlock = 1 << 20
)

// bigBlockData fills b with block i of the deterministic big file: zeros
// stamped with the block index at both ends, so a misplaced, dropped or
// repeated block shows. The file is written sparse: only the stamps.
func bigBlockData(b []byte, i int) {
	clear(b)
	binary.LittleEndian.PutUint64(b, uint64(i)+1)
	binary.LittleEndian.PutUint64(b[len(b)-8:], ^uint64(i))
}

// TestBigFileBoundedMemory encrypts and decrypts a 2 GiB file through the
// file API and checks that memory does not grow with the file: total heap
// allocation and the peak RSS growth both stay under 64 MiB. It writes 4 GiB
// (ciphertext and plaintext) to the temp directory, so -short skips it.
func TestBigFileBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 4 GiB of temporary files; skipped with -short")
	}
	dir := t.TempDir()
	src, enc, dec := filepath.Join(dir, "big.bin"), filepath.Join(dir, "big.bin.dsenc"), filepath.Join(dir, "big.out")
	block := make([]byte, bigBlock)
	start := time.Now()
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(bigSize); err != nil {
		t.Fatal(err)
	}
	for i := range bigSize / bigBlock {
		bigBlockData(block, i)
		off := int64(i) * bigBlock
		if _, err := f.WriteAt(block[:8], off); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(block[bigBlock-8:], off+bigBlock-8); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("generated a sparse 2 GiB file in %v", time.Since(start))

	c := testCodec(t, testKeyring(t), Options{})
	ctx := context.Background()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	hwmBefore := vmHWM(t)

	start = time.Now()
	if err := c.EncryptFile(ctx, enc, src, "k1"); err != nil {
		t.Fatal(err)
	}
	encDur := time.Since(start)
	os.Remove(src) // keep disk use down
	start = time.Now()
	if err := c.DecryptFile(ctx, dec, enc); err != nil {
		t.Fatal(err)
	}
	decDur := time.Since(start)

	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	hwmAfter := vmHWM(t)
	alloc := after.TotalAlloc - before.TotalAlloc
	mib := func(n float64) float64 { return n / (1 << 20) }
	t.Logf("encrypt %v (%.0f MiB/s), decrypt %v (%.0f MiB/s), both with fsync",
		encDur, mib(bigSize)/encDur.Seconds(), decDur, mib(bigSize)/decDur.Seconds())
	t.Logf("heap allocated during both: %.1f MiB; VmHWM %d -> %d KiB", mib(float64(alloc)), hwmBefore, hwmAfter)
	if alloc > 64<<20 {
		t.Errorf("allocated %.1f MiB for a 2 GiB round trip, want < 64 MiB", mib(float64(alloc)))
	}
	// The race detector's shadow memory roughly doubles resident memory.
	limitKiB := int64(64 << 10)
	if raceEnabled {
		limitKiB *= 2
	}
	if hwmBefore > 0 && hwmAfter-hwmBefore > limitKiB {
		t.Errorf("peak RSS grew by %d KiB, want < %d KiB", hwmAfter-hwmBefore, limitKiB)
	}

	out, err := os.Open(dec)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	r := bufio.NewReaderSize(out, bigBlock)
	got := make([]byte, bigBlock)
	for i := range bigSize / bigBlock {
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		bigBlockData(block, i)
		if !bytes.Equal(got, block) {
			t.Fatalf("block %d differs after the round trip", i)
		}
	}
	if n, _ := r.Read(got); n != 0 {
		t.Fatal("decrypted file is longer than the original")
	}
}

// vmHWM returns the process's peak resident set in KiB, or 0 if unknown.
func vmHWM(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
