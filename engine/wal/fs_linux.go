//go:build linux

package wal

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes the file's data and the metadata needed to read it back
// (its size, extent conversions), but not timestamps: fdatasync(2).
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = ignoringEINTR(func() error { return unix.Fdatasync(int(fd)) })
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

// allocate reserves [0, size) with fallocate(2) mode 0, which also extends
// the file size; reads of the reserved range return zeros. Filesystems
// without fallocate (some tmpfs/FUSE/NFS setups) get an extending truncate
// instead: the file is sparse, but its length and zero contents are the same.
func allocate(f *os.File, size int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var aerr error
	if err := rc.Control(func(fd uintptr) {
		aerr = ignoringEINTR(func() error { return unix.Fallocate(int(fd), 0, 0, size) })
	}); err != nil {
		return err
	}
	if aerr == nil {
		return nil
	}
	if errors.Is(aerr, unix.EOPNOTSUPP) || errors.Is(aerr, unix.ENOSYS) {
		return extendByTruncate(f, size)
	}
	return &os.PathError{Op: "fallocate", Path: f.Name(), Err: aerr}
}

func syncDirHandle(d *os.File) error { return d.Sync() }

func ignoringEINTR(fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
