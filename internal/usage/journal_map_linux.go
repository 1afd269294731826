package usage

import (
	"runtime/debug"
	"syscall"
)

// mapFile maps the journal with room for at least need bytes, its blocks
// allocated first (fallocate), so that a copy into the mapping does not
// find the disk full. It does not map on copy-on-write file systems,
// where rewriting an allocated block takes new space. Where it does not
// or cannot map (a file system without fallocate, a full disk, a mapping
// larger than the address space), the journal is written with write
// calls from its end (j.size) on.
func (j *journal) mapFile(need int64) {
	j.unmap()
	n := (need + mapChunk) / mapChunk * mapChunk
	fd := int(j.f.Fd())
	if mapJournals && int64(int(n)) == n && !copyOnWrite(fd) && syscall.Fallocate(fd, 0, 0, n) == nil {
		if m, err := syscall.Mmap(fd, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED); err == nil {
			j.m = m
			return
		}
	}
	j.writeFrom(j.size) // no zeros between the records and the next write
}

// copyOnWrite reports whether the file system of fd writes every change
// to a new block (btrfs, ZFS, bcachefs).
func copyOnWrite(fd int) bool {
	var st syscall.Statfs_t
	if syscall.Fstatfs(fd, &st) != nil {
		return true
	}
	switch uint32(st.Type) {
	case 0x9123683e, 0x2fc12fc1, 0xca451a4e: // BTRFS_SUPER_MAGIC, ZFS, BCACHEFS
		return true
	}
	return false
}

// copyIn copies the lines b into the mapping, the last newline after the
// rest (a process killed inside the copy leaves a line without its end,
// which load drops), and reports whether it could. A fault in the copy
// (the file cut under the mapping by another process, the disk full
// after all) unmaps the journal, cut back to its records, for write
// calls from here on, instead of killing the process (SIGBUS).
func (j *journal) copyIn(b []byte) (copied bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if _, fault := p.(interface{ Addr() uintptr }); !fault {
				panic(p)
			}
			j.unmap()
			if cut, _ := j.checkCut(); !cut {
				j.writeFrom(j.size) // (the zeros past the records cut off)
			}
			j.trouble = "usage journal: a fault writing the mapped file (cut by another process, or the disk full); written with write calls until it is cut back"
			copied = false
		}
	}()
	at := j.size + int64(copy(j.m[j.size:], b[:len(b)-1]))
	j.m[at] = '\n'
	j.size = at + 1
	return true
}

// unmap undoes mapFile and reports whether the journal was mapped.
func (j *journal) unmap() bool {
	if j.m == nil {
		return false
	}
	syscall.Munmap(j.m)
	j.m = nil
	return true
}
