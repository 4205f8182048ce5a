//go:build !linux

package wal

import (
	"os"
	"runtime"
)

// datasync falls back to fsync (on darwin Go's File.Sync issues F_FULLFSYNC).
func datasync(f *os.File) error { return f.Sync() }

// allocate has no portable fallocate; an extending truncate gives the same
// length and zero contents, sparsely.
func allocate(f *os.File, size int64) error { return extendByTruncate(f, size) }

func syncDirHandle(d *os.File) error {
	// Windows cannot open a directory for fsync; there is no equivalent
	// call, so directory durability is left to the filesystem there.
	if runtime.GOOS == "windows" {
		return nil
	}
	return d.Sync()
}
