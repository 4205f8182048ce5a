package mapped

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Align is the alignment of every region Alloc returns (a cache line).
const Align = 64

// DefaultSegmentBytes is the size of one segment file. Regions larger than
// a segment get a segment of their own.
const DefaultSegmentBytes = 16 << 20

// ErrClosed is returned by Alloc's error path and Stats after Close.
var ErrClosed = errors.New("mapped: arena is closed")

// Options tunes an Arena. The zero value is the default.
type Options struct {
	// SegmentBytes is the size of a segment file (rounded up to the page
	// size); 0 means DefaultSegmentBytes.
	SegmentBytes int
	// Logger receives the one warning about falling back to the heap.
	Logger *slog.Logger
	// Fallocate, if set, replaces the system call that reserves a
	// segment's blocks (tests inject failures with it).
	Fallocate func(f *os.File, size int64) error
}

// Stats counts an arena's memory.
type Stats struct {
	// MappedBytes is the size of the segment files mapped.
	MappedBytes int64
	// InUseBytes is what the regions handed out and not freed take in
	// the segments.
	InUseBytes int64
	// HeapBytes is what regions that fell back to the heap take.
	HeapBytes int64
	// Fallbacks counts regions that fell back to the heap.
	Fallbacks int64
	// Segments is the number of segment files.
	Segments int
}

// Arena hands out regions of file-backed shared memory. It is safe for
// concurrent use.
type Arena struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	closed bool
	segs   []*segment
	cur    *segment // the segment bump allocation carves from
	free   map[int][]unsafe.Pointer
	nextID int

	inUse, heap, fallbacks atomic.Int64
	warned                 atomic.Bool
}

// segment is one mapped file.
type segment struct {
	name string
	mem  []byte
	off  int // bump pointer
}

func (s *segment) holds(p unsafe.Pointer) bool {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s.mem)))
	return uintptr(p) >= base && uintptr(p) < base+uintptr(len(s.mem))
}

// segPrefix starts every segment file's name; Open and Close remove only
// such files, so a directory given by mistake loses nothing else.
const segPrefix = "seg-"

// Open makes dir if need be, removes the segment files an earlier process
// left in it (they are stale) and returns an arena that makes its segment
// files there.
func Open(dir string, opts Options) (*Arena, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	page := os.Getpagesize()
	opts.SegmentBytes = (opts.SegmentBytes + page - 1) / page * page
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("mapped: make %s: %w", dir, err)
	}
	if err := removeSegments(dir); err != nil {
		return nil, err
	}
	return &Arena{dir: dir, opts: opts, log: opts.Logger, free: make(map[int][]unsafe.Pointer)}, nil
}

// Dir returns the arena's directory.
func (a *Arena) Dir() string { return a.dir }

// roundUp rounds n up to a multiple of Align.
func roundUp(n int) int { return (n + Align - 1) &^ (Align - 1) }

// Alloc returns a zeroed region of n bytes aligned to Align: from a segment
// file when it can make one, else from the heap (counted, logged once).
// After Close every region comes from the heap.
func (a *Arena) Alloc(n int) []byte {
	if n <= 0 {
		return nil
	}
	size := roundUp(n)
	b, err := a.allocMapped(size)
	if err == nil {
		return b[:n:n]
	}
	a.fallbacks.Add(1)
	a.heap.Add(int64(size))
	if !errors.Is(err, ErrClosed) && a.warned.CompareAndSwap(false, true) {
		a.log.Warn("mapped memory unavailable, using the heap instead (nothing is lost; the process uses more memory)", "dir", a.dir, "err", err)
	}
	return heapRegion(size)[:n:n]
}

// heapRegion returns a zeroed, Align-aligned heap slice of size bytes.
func heapRegion(size int) []byte {
	b := make([]byte, size+Align)
	off := (Align - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))&(Align-1))) & (Align - 1)
	return b[off : off+size : off+size]
}

func (a *Arena) allocMapped(size int) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, ErrClosed
	}
	if l := a.free[size]; len(l) > 0 {
		p := l[len(l)-1]
		a.free[size] = l[:len(l)-1]
		b := unsafe.Slice((*byte)(p), size)
		clear(b)
		a.inUse.Add(int64(size))
		return b, nil
	}
	if a.cur == nil || a.cur.off+size > len(a.cur.mem) {
		segBytes := max(a.opts.SegmentBytes, (size+os.Getpagesize()-1)/os.Getpagesize()*os.Getpagesize())
		s, err := a.newSegment(segBytes)
		if err != nil {
			return nil, err
		}
		a.segs = append(a.segs, s)
		// A region of its own size does not replace the segment that
		// still has room for small ones.
		if segBytes == a.opts.SegmentBytes || a.cur == nil {
			a.cur = s
		} else {
			s.off = size
			a.inUse.Add(int64(size))
			return s.mem[:size:size], nil
		}
	}
	b := a.cur.mem[a.cur.off : a.cur.off+size : a.cur.off+size]
	a.cur.off += size
	a.inUse.Add(int64(size))
	return b, nil
}

func (a *Arena) newSegment(size int) (*segment, error) {
	name := filepath.Join(a.dir, fmt.Sprintf("%s%06d", segPrefix, a.nextID))
	a.nextID++
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("mapped: create segment: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	fail := func(err error) (*segment, error) {
		_ = os.Remove(name)
		return nil, err
	}
	reserve := a.opts.Fallocate
	if reserve == nil {
		reserve = fallocate
	}
	if err := reserve(f, int64(size)); err != nil {
		return fail(fmt.Errorf("mapped: reserve %d bytes for segment %s: %w", size, name, err))
	}
	mem, err := mapShared(f, size)
	if err != nil {
		return fail(fmt.Errorf("mapped: map segment %s: %w", name, err))
	}
	return &segment{name: name, mem: mem}, nil
}

// Free gives a region back for reuse. The caller guarantees that nothing
// reads or writes it any more. Heap regions are left to the collector.
func (a *Arena) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	size := roundUp(cap(b))
	p := unsafe.Pointer(unsafe.SliceData(b))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	for _, s := range a.segs {
		if s.holds(p) {
			// The pages leave the process (they stay in the page cache,
			// which the kernel reclaims as it needs); a reuse clears them.
			dropPages(unsafe.Slice((*byte)(p), size))
			a.free[size] = append(a.free[size], p)
			a.inUse.Add(-int64(size))
			return
		}
	}
	a.heap.Add(-int64(size))
}

// Stats returns the arena's counters.
func (a *Arena) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := Stats{InUseBytes: a.inUse.Load(), HeapBytes: a.heap.Load(), Fallbacks: a.fallbacks.Load(), Segments: len(a.segs)}
	for _, s := range a.segs {
		st.MappedBytes += int64(len(s.mem))
	}
	return st
}

// Close unmaps every segment and removes the directory. The caller
// guarantees that no region is read or written any more. Closing twice
// is a no-op.
func (a *Arena) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	var errs []error
	for _, s := range a.segs {
		if err := unmap(s.mem); err != nil {
			errs = append(errs, fmt.Errorf("mapped: unmap %s: %w", s.name, err))
		}
	}
	a.segs, a.cur, a.free = nil, nil, nil
	a.inUse.Store(0)
	if err := removeSegments(a.dir); err != nil {
		errs = append(errs, err)
	}
	// The directory goes if nothing else is in it (gone already is fine).
	if err := os.Remove(a.dir); err != nil && !errors.Is(err, os.ErrNotExist) && !isNotEmpty(err) {
		errs = append(errs, fmt.Errorf("mapped: remove %s: %w", a.dir, err))
	}
	return errors.Join(errs...)
}

// removeSegments removes dir's segment files (a missing dir has none).
func removeSegments(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mapped: list %s: %w", dir, err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), segPrefix) || e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("mapped: remove stale segment: %w", err)
		}
	}
	return nil
}

func isNotEmpty(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && (errors.Is(pe.Err, syscall.ENOTEMPTY) || errors.Is(pe.Err, syscall.EEXIST))
}
