package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// File is the handle the log needs on one open file. Every method maps to
// one system call so that FaultFS can fail exactly that call.
type File interface {
	io.ReaderAt
	// WriteAt writes at an explicit offset: segments are preallocated, so
	// appending at the end of the file (O_APPEND) would write past the
	// zeroed space instead of into it.
	io.WriterAt
	// Sync makes the file's data durable (fdatasync where available).
	Sync() error
	Truncate(size int64) error
	// Allocate reserves space so that the file is at least size bytes long
	// and reads of the new range return zeros (fallocate where available,
	// otherwise an extending truncate).
	Allocate(size int64) error
	Stat() (fs.FileInfo, error)
	Close() error
	Name() string
}

// FS is the filesystem the log works through. OSFS is the real one; FaultFS
// wraps any FS to inject failures.
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	Remove(name string) error
	Rename(oldpath, newpath string) error
	// ReadDir lists the names of the entries in dir, sorted.
	ReadDir(dir string) ([]string, error)
	MkdirAll(dir string, perm fs.FileMode) error
	Stat(name string) (fs.FileInfo, error)
	// SyncDir makes the directory's entries (creations, renames, removals)
	// durable.
	SyncDir(dir string) error
}

// OSFS is the operating system's filesystem.
type OSFS struct{}

var _ FS = OSFS{}

// OpenFile opens name with os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Remove removes name.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// Rename renames oldpath to newpath.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// ReadDir returns the sorted names in dir.
func (OSFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// MkdirAll creates dir and its parents.
func (OSFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }

// Stat stats name.
func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// SyncDir fsyncs the directory itself.
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := syncDirHandle(d)
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("sync dir %s: %w", dir, serr)
	}
	return cerr
}

type osFile struct{ *os.File }

func (f osFile) Sync() error               { return datasync(f.File) }
func (f osFile) Allocate(size int64) error { return allocate(f.File, size) }

// extendByTruncate grows f to size without writing data; it never shrinks.
func extendByTruncate(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() >= size {
		return nil
	}
	return f.Truncate(size)
}

// MkdirAllDurable creates dir and any missing parents, fsyncing each new
// directory's parent after making it, so that a power cut cannot lose the
// directory entry (and with it everything written inside, fsynced or not).
// A directory that already exists is left as it is.
func MkdirAllDurable(fsys FS, dir string, perm fs.FileMode) error {
	dir = filepath.Clean(dir)
	fi, err := fsys.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("create directory %s: %w", dir, syscall.ENOTDIR)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAllDurable(fsys, parent, perm); err != nil {
			return err
		}
	}
	if err := fsys.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	if err := fsys.SyncDir(parent); err != nil {
		return fmt.Errorf("sync %s after creating %s: %w", parent, filepath.Base(dir), err)
	}
	return nil
}

// RemoveAll removes path and everything below it (nothing if it does not
// exist), deepest first. It does not fsync: the caller syncs the parent.
func RemoveAll(fsys FS, path string) error {
	fi, err := fsys.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	if fi.IsDir() {
		names, err := fsys.ReadDir(path)
		if err != nil {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		for _, n := range names {
			if err := RemoveAll(fsys, filepath.Join(path, n)); err != nil {
				return err
			}
		}
	}
	if err := fsys.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
