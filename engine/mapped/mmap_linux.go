package mapped

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fallocate reserves size bytes of blocks for f (and sets its size), so
// that writing through the mapping later never meets a full disk.
func fallocate(f *os.File, size int64) error {
	return unix.Fallocate(int(f.Fd()), 0, 0, size)
}

func mapShared(f *os.File, size int) ([]byte, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	// A graph walk touches codes and lists in no order: a page read back
	// after the kernel dropped it should bring that page alone, not the
	// readahead window around it (which would push out pages in use).
	_ = unix.Madvise(mem, unix.MADV_RANDOM)
	return mem, nil
}

func unmap(b []byte) error { return unix.Munmap(b) }

// dropPages takes the whole pages inside b out of the process's resident
// set (MADV_DONTNEED on a shared file mapping keeps their contents in the
// file). Best effort: a failure only leaves them resident.
func dropPages(b []byte) {
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	first := (start + page - 1) &^ (page - 1)
	end := (start + uintptr(len(b))) &^ (page - 1)
	if end <= first {
		return
	}
	_ = unix.Madvise(b[first-start:end-start], unix.MADV_DONTNEED)
}
