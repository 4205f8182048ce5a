package mapped

import (
	"os"

	"golang.org/x/sys/unix"
)

// fallocate reserves size bytes of blocks for f (and sets its size), so
// that writing through the mapping later never meets a full disk.
func fallocate(f *os.File, size int64) error {
	return unix.Fallocate(int(f.Fd()), 0, 0, size)
}

func mapShared(f *os.File, size int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

func unmap(b []byte) error { return unix.Munmap(b) }
