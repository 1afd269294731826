package usage

import (
	"io"
	"syscall"
)

// mapFile maps the journal with room for at least need bytes, its blocks
// allocated first (fallocate): a copy into the mapping can then not find
// the disk full, which would kill the process (SIGBUS) where a write call
// returns an error. Where that fails (a file system without fallocate, a
// full disk) the journal is left unmapped, written with write calls from
// its end (j.size) on.
func (j *journal) mapFile(need int64) {
	j.unmap()
	n := (need + mapChunk) / mapChunk * mapChunk
	fd := int(j.f.Fd())
	if mapJournals && syscall.Fallocate(fd, 0, 0, n) == nil {
		if m, err := syscall.Mmap(fd, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED); err == nil {
			j.m = m
			return
		}
	}
	j.f.Truncate(j.size) // no zeros between the records and the next write
	j.f.Seek(j.size, io.SeekStart)
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
