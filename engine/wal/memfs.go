package wal

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrCrashed is returned by every call on a MemFS (and on its open files)
// after Crash: the simulated machine has lost power.
var ErrCrashed = errors.New("filesystem crashed (simulated power loss)")

// MemFS is an in-memory filesystem that keeps, beside what every file and
// directory holds now, what an fsync has made durable, so that tests can
// simulate a power cut: Crash returns the filesystem as it would come back
// up, with every write and directory change that no fsync covered
// discarded, as Pebble's crashable MemFS and SQLite's crash-test VFS do.
//
// The durability model is the one the engine must assume of a POSIX
// filesystem, with nothing a journal happens to give for free:
//
//   - File data and size are durable up to the last File.Sync (fdatasync);
//     writes, truncations and allocations after it are lost.
//   - A directory's entries (files and directories created in it, renamed
//     into or out of it, removed from it) are durable as of the last
//     SyncDir of that directory. A file fsynced but never named in a synced
//     directory is lost; a removal not followed by SyncDir is undone.
//   - A directory made by MkdirAll exists after a crash only if its parent
//     was synced after it was made, recursively up to the root.
//
// An optional capacity makes it a small disk: writes and allocations that
// would take the bytes of all linked files past it fail with ENOSPC (a
// write takes what fits, like write(2), and reports the short count).
//
// Paths are slash-separated and cleaned; "/" always exists and is durable.
// MemFS is safe for concurrent use; every call is atomic with respect to
// Crash.
type MemFS struct {
	mu       sync.Mutex
	root     *memNode
	crashed  bool
	capacity int64 // 0: unlimited
	used     int64 // bytes of files linked in some directory
}

var _ FS = (*MemFS)(nil)

// memNode is a file or a directory.
type memNode struct {
	dir  bool
	mode fs.FileMode
	// files
	data    []byte
	durable []byte // data as of the last Sync
	links   int    // directory entries naming it now
	// directories
	entries        map[string]*memNode // now
	durableEntries map[string]*memNode // as of the last SyncDir
}

func newMemDir(mode fs.FileMode) *memNode {
	return &memNode{dir: true, mode: mode, entries: map[string]*memNode{}, durableEntries: map[string]*memNode{}}
}

// NewMemFS returns an empty filesystem holding only the root directory.
func NewMemFS() *MemFS {
	return &MemFS{root: newMemDir(0o755)}
}

// SetCapacity makes the filesystem a disk of capacity bytes (file
// contents only; directories are free); 0 removes the limit. Lowering it
// below what is used makes every growth fail until files shrink or go.
func (m *MemFS) SetCapacity(capacity int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capacity = capacity
}

// Used returns the bytes of all files linked in some directory.
func (m *MemFS) Used() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used
}

// MakeDurable makes the whole current state durable, as sync(2) followed by
// an fsync of every directory would: for setting up a test's starting point.
func (m *MemFS) MakeDurable() {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[*memNode]bool{}
	var walk func(n *memNode)
	walk = func(n *memNode) {
		if seen[n] {
			return
		}
		seen[n] = true
		if !n.dir {
			n.durable = slices.Clone(n.data)
			return
		}
		n.durableEntries = copyEntries(n.entries)
		for _, c := range n.entries {
			walk(c)
		}
	}
	walk(m.root)
}

func copyEntries(in map[string]*memNode) map[string]*memNode {
	out := make(map[string]*memNode, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// Crash simulates a power cut at this instant: m and every file open on it
// fail every later call with ErrCrashed, and the returned filesystem holds
// exactly the durable state (see MemFS). Calls running concurrently either
// completed before the cut or fail.
func (m *MemFS) Crash() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashed = true
	out := &MemFS{capacity: m.capacity}
	clones := map[*memNode]*memNode{}
	var clone func(n *memNode) *memNode
	clone = func(n *memNode) *memNode {
		if c, ok := clones[n]; ok {
			if !c.dir {
				c.links++
			}
			return c
		}
		if !n.dir {
			c := &memNode{mode: n.mode, data: slices.Clone(n.durable), durable: slices.Clone(n.durable), links: 1}
			clones[n] = c
			out.used += int64(len(c.data))
			return c
		}
		c := newMemDir(n.mode)
		clones[n] = c
		for name, child := range n.durableEntries {
			cc := clone(child)
			c.entries[name] = cc
			c.durableEntries[name] = cc
		}
		return c
	}
	out.root = clone(m.root)
	return out
}

// split cleans p and returns its components ("/" has none).
func split(p string) []string {
	p = filepath.ToSlash(filepath.Clean("/" + p))
	if p == "/" {
		return nil
	}
	return strings.Split(strings.TrimPrefix(p, "/"), "/")
}

func pathErr(op, path string, err error) error { return &fs.PathError{Op: op, Path: path, Err: err} }

// lookupDir returns the directory holding the last component of parts.
func (m *MemFS) lookupDir(parts []string) (*memNode, error) {
	d := m.root
	for _, p := range parts {
		c, ok := d.entries[p]
		if !ok {
			return nil, fs.ErrNotExist
		}
		if !c.dir {
			return nil, syscall.ENOTDIR
		}
		d = c
	}
	return d, nil
}

// lookup returns the node at path.
func (m *MemFS) lookup(path string) (*memNode, error) {
	parts := split(path)
	if len(parts) == 0 {
		return m.root, nil
	}
	d, err := m.lookupDir(parts[:len(parts)-1])
	if err != nil {
		return nil, err
	}
	n, ok := d.entries[parts[len(parts)-1]]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return n, nil
}

// reserve accounts for a linked file changing size by delta bytes, all
// or nothing: growth past the capacity fails with ENOSPC.
func (m *MemFS) reserve(n *memNode, delta int64) error {
	if n.links == 0 {
		return nil // unlinked files count for nothing
	}
	if delta > 0 && m.capacity > 0 && m.used+delta > m.capacity {
		return syscall.ENOSPC
	}
	m.used += delta
	return nil
}

// room returns how many of delta more bytes the linked file n may take.
func (m *MemFS) room(n *memNode, delta int64) int64 {
	if n.links == 0 || m.capacity == 0 {
		return delta
	}
	return min(delta, max(0, m.capacity-m.used))
}

// OpenFile implements FS. Supported flags: O_RDONLY, O_WRONLY, O_RDWR,
// O_CREATE, O_EXCL, O_TRUNC.
func (m *MemFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return nil, pathErr("open", name, ErrCrashed)
	}
	parts := split(name)
	if len(parts) == 0 {
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	d, err := m.lookupDir(parts[:len(parts)-1])
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	base := parts[len(parts)-1]
	n, ok := d.entries[base]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr("open", name, fs.ErrExist)
	case ok && n.dir:
		return nil, pathErr("open", name, syscall.EISDIR)
	case !ok && flag&os.O_CREATE == 0:
		return nil, pathErr("open", name, fs.ErrNotExist)
	case !ok:
		n = &memNode{mode: perm, links: 1}
		d.entries[base] = n
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if flag&os.O_TRUNC != 0 && writable {
		_ = m.reserve(n, -int64(len(n.data))) // shrinking never fails
		n.data = nil
	}
	return &memFile{fs: m, n: n, name: name, readable: flag&os.O_WRONLY == 0, writable: writable}, nil
}

// Remove implements FS: a file, or an empty directory.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return pathErr("remove", name, ErrCrashed)
	}
	parts := split(name)
	if len(parts) == 0 {
		return pathErr("remove", name, syscall.EBUSY)
	}
	d, err := m.lookupDir(parts[:len(parts)-1])
	if err != nil {
		return pathErr("remove", name, err)
	}
	base := parts[len(parts)-1]
	n, ok := d.entries[base]
	if !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if n.dir && len(n.entries) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	delete(d.entries, base)
	m.unlink(n)
	return nil
}

func (m *MemFS) unlink(n *memNode) {
	if n.dir {
		return
	}
	n.links--
	if n.links == 0 {
		m.used -= int64(len(n.data))
	}
}

// Rename implements FS with rename(2) semantics: newpath is replaced if it
// is a file (or an empty directory, when oldpath is a directory).
func (m *MemFS) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return pathErr("rename", newpath, ErrCrashed)
	}
	op, np := split(oldpath), split(newpath)
	if len(op) == 0 || len(np) == 0 {
		return pathErr("rename", newpath, syscall.EBUSY)
	}
	if len(np) > len(op) && slices.Equal(np[:len(op)], op) {
		return pathErr("rename", newpath, syscall.EINVAL) // into itself
	}
	od, err := m.lookupDir(op[:len(op)-1])
	if err != nil {
		return pathErr("rename", oldpath, err)
	}
	n, ok := od.entries[op[len(op)-1]]
	if !ok {
		return pathErr("rename", oldpath, fs.ErrNotExist)
	}
	nd, err := m.lookupDir(np[:len(np)-1])
	if err != nil {
		return pathErr("rename", newpath, err)
	}
	if old, ok := nd.entries[np[len(np)-1]]; ok {
		if old == n {
			return nil
		}
		switch {
		case old.dir && !n.dir:
			return pathErr("rename", newpath, syscall.EISDIR)
		case !old.dir && n.dir:
			return pathErr("rename", newpath, syscall.ENOTDIR)
		case old.dir && len(old.entries) > 0:
			return pathErr("rename", newpath, syscall.ENOTEMPTY)
		}
		m.unlink(old)
	}
	delete(od.entries, op[len(op)-1])
	nd.entries[np[len(np)-1]] = n
	return nil
}

// ReadDir implements FS: the sorted names in dir.
func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return nil, pathErr("readdir", dir, ErrCrashed)
	}
	d, err := m.lookup(dir)
	if err != nil {
		return nil, pathErr("readdir", dir, err)
	}
	if !d.dir {
		return nil, pathErr("readdir", dir, syscall.ENOTDIR)
	}
	names := make([]string, 0, len(d.entries))
	for n := range d.entries {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// MkdirAll implements FS. New directories are durable only once their
// parent is synced.
func (m *MemFS) MkdirAll(dir string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return pathErr("mkdir", dir, ErrCrashed)
	}
	d := m.root
	for _, p := range split(dir) {
		c, ok := d.entries[p]
		if !ok {
			c = newMemDir(perm)
			d.entries[p] = c
		} else if !c.dir {
			return pathErr("mkdir", dir, syscall.ENOTDIR)
		}
		d = c
	}
	return nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return nil, pathErr("stat", name, ErrCrashed)
	}
	n, err := m.lookup(name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return n.info(filepath.Base(name)), nil
}

// SyncDir implements FS: the directory's entries become durable.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return pathErr("syncdir", dir, ErrCrashed)
	}
	d, err := m.lookup(dir)
	if err != nil {
		return pathErr("syncdir", dir, err)
	}
	if !d.dir {
		return pathErr("syncdir", dir, syscall.ENOTDIR)
	}
	d.durableEntries = copyEntries(d.entries)
	return nil
}

func (n *memNode) info(name string) fs.FileInfo {
	mode := n.mode
	if n.dir {
		mode |= fs.ModeDir
	}
	return memInfo{name: name, size: int64(len(n.data)), mode: mode}
}

type memInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return i.mode }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i memInfo) Sys() any           { return nil }

// memFile is an open file of a MemFS.
type memFile struct {
	fs       *MemFS
	n        *memNode
	name     string
	readable bool
	writable bool
	closed   bool
}

func (f *memFile) check(op string, write bool) error {
	switch {
	case f.fs.crashed:
		return pathErr(op, f.name, ErrCrashed)
	case f.closed:
		return pathErr(op, f.name, fs.ErrClosed)
	case write && !f.writable, !write && !f.readable:
		return pathErr(op, f.name, syscall.EBADF)
	}
	return nil
}

func (f *memFile) ReadAt(b []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, syscall.EINVAL)
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(b, f.n.data[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(b []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("write", f.name, syscall.EINVAL)
	}
	end := off + int64(len(b))
	var werr error
	if size := int64(len(f.n.data)); end > size {
		// Like write(2) on a full disk: take what fits, report the short
		// count, and fail only when nothing could be written.
		if fit := f.fs.room(f.n, end-size); fit < end-size {
			end, werr = size+fit, syscall.ENOSPC
			if end <= off {
				return 0, pathErr("write", f.name, werr)
			}
		}
		_ = f.fs.reserve(f.n, end-size) // room said it fits
		f.n.data = append(f.n.data, make([]byte, end-size)...)
	}
	n := copy(f.n.data[off:end], b)
	if werr != nil {
		return n, pathErr("write", f.name, werr)
	}
	return n, nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	switch {
	case f.fs.crashed:
		return pathErr("sync", f.name, ErrCrashed)
	case f.closed:
		return pathErr("sync", f.name, fs.ErrClosed)
	}
	f.n.durable = slices.Clone(f.n.data)
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	return f.resize("truncate", size, true)
}

// resize sets the file's length to size (or only grows it), zero filling
// growth; growth past the capacity fails whole with ENOSPC.
func (f *memFile) resize(op string, size int64, shrink bool) error {
	if size < 0 {
		return pathErr(op, f.name, syscall.EINVAL)
	}
	cur := int64(len(f.n.data))
	if size < cur && !shrink || size == cur {
		return nil
	}
	if err := f.fs.reserve(f.n, size-cur); err != nil {
		return pathErr(op, f.name, err)
	}
	if size < cur {
		f.n.data = f.n.data[:size:size]
	} else {
		f.n.data = append(f.n.data, make([]byte, size-cur)...)
	}
	return nil
}

func (f *memFile) Allocate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("allocate", true); err != nil {
		return err
	}
	return f.resize("allocate", size, false)
}

func (f *memFile) Stat() (fs.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.crashed {
		return nil, pathErr("stat", f.name, ErrCrashed)
	}
	return f.n.info(filepath.Base(f.name)), nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	if f.fs.crashed {
		return pathErr("close", f.name, ErrCrashed)
	}
	return nil
}

func (f *memFile) Name() string { return f.name }
