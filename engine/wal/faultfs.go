package wal

import (
	"fmt"
	"io/fs"

	"strings"
	"sync"
	"syscall"
)

// Op names a filesystem call FaultFS can count and fail.
type Op int

// The calls FaultFS counts and can fail: one per FS or File method (File.Stat
// excepted: it is bookkeeping, not I/O that can half-happen).
const (
	OpOpen Op = iota + 1
	OpRead
	OpWrite
	OpSync
	OpTruncate
	OpAllocate
	OpClose
	OpRemove
	OpRename
	OpReadDir
	OpMkdir
	OpStat
	OpSyncDir
)

// OpAny in a Rule matches every call, whatever its Op: a crash "at the
// Nth filesystem call" picks among all of them.
const OpAny Op = -1

var opNames = [...]string{
	OpOpen: "open", OpRead: "read", OpWrite: "write", OpSync: "sync",
	OpTruncate: "truncate", OpAllocate: "allocate", OpClose: "close",
	OpRemove: "remove", OpRename: "rename", OpReadDir: "readdir",
	OpMkdir: "mkdir", OpStat: "stat", OpSyncDir: "syncdir",
}

func (o Op) String() string {
	if o == OpAny {
		return "any"
	}
	if o > 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Rule is one fault: fail the Nth call of Op (counted from when the rule is
// added, among calls whose path matches PathSuffix).
type Rule struct {
	Op  Op
	Nth int // 1 = the next matching call
	// Err is the error returned (wrapped in *fs.PathError); nil means EIO.
	Err error
	// Short makes a write fault a short write: the first half of the
	// buffer really is written, then Err is returned.
	Short bool
	// Sticky keeps failing every matching call after the Nth too, like a
	// disk that has gone away.
	Sticky bool
	// PathSuffix, if set, restricts the rule to paths ending with it (e.g.
	// ".wal" for segments only, ".broken" for evidence files).
	PathSuffix string
	// Crash turns the fault into a power cut just before the call: the
	// wrapped filesystem (a *MemFS) crashes, this call and every later one
	// fail with ErrCrashed, and AfterCrash returns the filesystem the cut
	// left behind. Err, Short and Sticky do not apply.
	Crash bool
}

// Injection records a fault FaultFS injected.
type Injection struct {
	Op   Op
	Path string
	Err  error
}

// FaultFS wraps an FS and fails chosen calls, deterministically: rules fire
// on call counts, never on timing or chance. It also counts every call, so
// tests can assert e.g. how many fsyncs a workload cost. Safe for concurrent
// use.
type FaultFS struct {
	inner FS

	mu      sync.Mutex
	counts  map[Op]int
	rules   []*ruleState
	fired   []Injection
	hook    func(op Op, path string)
	crashed *MemFS // the filesystem a Crash rule left, once it fired
}

type ruleState struct {
	Rule
	seen int
}

var _ FS = (*FaultFS)(nil)

// NewFaultFS wraps inner (nil means OSFS).
func NewFaultFS(inner FS) *FaultFS {
	if inner == nil {
		inner = OSFS{}
	}
	return &FaultFS{inner: inner, counts: make(map[Op]int)}
}

// AddRule arms a fault.
func (f *FaultFS) AddRule(r Rule) {
	if r.Err == nil {
		r.Err = syscall.EIO
	}
	if r.Nth < 1 {
		r.Nth = 1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &ruleState{Rule: r})
}

// ClearRules disarms all faults (counts are kept).
func (f *FaultFS) ClearRules() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Count returns how many times op has been called (faulted calls included).
func (f *FaultFS) Count(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// Fired returns the faults injected so far, in order.
func (f *FaultFS) Fired() []Injection {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Injection(nil), f.fired...)
}

// SetHook installs fn to be called before every call (before its rules
// are checked), with no FaultFS lock held: a test can block a chosen call
// there to see what the rest of the program does meanwhile. nil removes it.
func (f *FaultFS) SetHook(fn func(op Op, path string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = fn
}

// AfterCrash returns the filesystem a Crash rule left behind, or nil if
// none has fired.
func (f *FaultFS) AfterCrash() *MemFS {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashed
}

// check runs the hook, counts a call and returns the rule that fails it,
// if any.
func (f *FaultFS) check(op Op, path string) *Rule {
	f.mu.Lock()
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		hook(op, path)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[op]++
	var hit *Rule
	for _, r := range f.rules {
		if (r.Op != op && r.Op != OpAny) || (r.PathSuffix != "" && !strings.HasSuffix(path, r.PathSuffix)) {
			continue
		}
		r.seen++
		if hit == nil && (r.seen == r.Nth || (r.Sticky && r.seen > r.Nth)) {
			hit = &r.Rule
		}
	}
	if hit != nil && hit.Crash {
		hit = f.crashLocked()
	}
	if hit != nil {
		f.fired = append(f.fired, Injection{Op: op, Path: path, Err: hit.Err})
	}
	return hit
}

// crashLocked cuts the power of the wrapped MemFS (once) and returns the
// rule that fails the call at hand with ErrCrashed.
func (f *FaultFS) crashLocked() *Rule {
	if f.crashed == nil {
		m, ok := f.inner.(*MemFS)
		if !ok {
			return &Rule{Err: fmt.Errorf("a Crash rule needs a *MemFS under the FaultFS, not %T", f.inner)}
		}
		f.crashed = m.Crash()
	}
	return &Rule{Err: ErrCrashed}
}

func injected(op Op, path string, r *Rule) error {
	return &fs.PathError{Op: op.String() + " (injected)", Path: path, Err: r.Err}
}

// OpenFile implements FS.
func (f *FaultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	if r := f.check(OpOpen, name); r != nil {
		return nil, injected(OpOpen, name, r)
	}
	file, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

// Remove implements FS.
func (f *FaultFS) Remove(name string) error {
	if r := f.check(OpRemove, name); r != nil {
		return injected(OpRemove, name, r)
	}
	return f.inner.Remove(name)
}

// Rename implements FS; rules match on the new path.
func (f *FaultFS) Rename(oldpath, newpath string) error {
	if r := f.check(OpRename, newpath); r != nil {
		return injected(OpRename, newpath, r)
	}
	return f.inner.Rename(oldpath, newpath)
}

// ReadDir implements FS.
func (f *FaultFS) ReadDir(dir string) ([]string, error) {
	if r := f.check(OpReadDir, dir); r != nil {
		return nil, injected(OpReadDir, dir, r)
	}
	return f.inner.ReadDir(dir)
}

// MkdirAll implements FS.
func (f *FaultFS) MkdirAll(dir string, perm fs.FileMode) error {
	if r := f.check(OpMkdir, dir); r != nil {
		return injected(OpMkdir, dir, r)
	}
	return f.inner.MkdirAll(dir, perm)
}

// Stat implements FS.
func (f *FaultFS) Stat(name string) (fs.FileInfo, error) {
	if r := f.check(OpStat, name); r != nil {
		return nil, injected(OpStat, name, r)
	}
	return f.inner.Stat(name)
}

// SyncDir implements FS.
func (f *FaultFS) SyncDir(dir string) error {
	if r := f.check(OpSyncDir, dir); r != nil {
		return injected(OpSyncDir, dir, r)
	}
	return f.inner.SyncDir(dir)
}

type faultFile struct {
	File
	fs   *FaultFS
	name string
}

func (f *faultFile) ReadAt(b []byte, off int64) (int, error) {
	if r := f.fs.check(OpRead, f.name); r != nil {
		return 0, injected(OpRead, f.name, r)
	}
	return f.File.ReadAt(b, off)
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	r := f.fs.check(OpWrite, f.name)
	if r == nil {
		return f.File.WriteAt(b, off)
	}
	if !r.Short || len(b) < 2 {
		return 0, injected(OpWrite, f.name, r)
	}
	n, err := f.File.WriteAt(b[:len(b)/2], off)
	if err != nil {
		return n, err
	}
	return n, injected(OpWrite, f.name, r)
}

func (f *faultFile) Sync() error {
	if r := f.fs.check(OpSync, f.name); r != nil {
		return injected(OpSync, f.name, r)
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if r := f.fs.check(OpTruncate, f.name); r != nil {
		return injected(OpTruncate, f.name, r)
	}
	return f.File.Truncate(size)
}

func (f *faultFile) Allocate(size int64) error {
	if r := f.fs.check(OpAllocate, f.name); r != nil {
		return injected(OpAllocate, f.name, r)
	}
	return f.File.Allocate(size)
}

// Close always closes the real file (a leaked descriptor would make tests
// flaky), then reports the injected error if a rule says so.
func (f *faultFile) Close() error {
	r := f.fs.check(OpClose, f.name)
	err := f.File.Close()
	if r != nil {
		return injected(OpClose, f.name, r)
	}
	return err
}

// Stat is not a fault point: it is bookkeeping, not I/O that can half-happen.
func (f *faultFile) Stat() (fs.FileInfo, error) { return f.File.Stat() }
