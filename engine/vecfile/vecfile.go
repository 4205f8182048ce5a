package vecfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/akidb/akidb/engine/wal"
)

const (
	magic      = "AKIDBVEC"
	version    = 1
	headerSize = 64
	suffix     = ".vec"
	// MaxDim is the largest dimension a file may have.
	MaxDim = 16384
	// copyRows is how many rows Compact and Commit move per read.
	copyRows = 1024
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// littleEndian: rows are read and written straight into float32 slices,
// which is their on-disk layout only on a little-endian host; elsewhere
// they are swapped.
var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

// CorruptError says which vectors file is damaged, where and how.
type CorruptError struct {
	Path   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("vectors file %s is corrupt at offset %d: %s", e.Path, e.Offset, e.Reason)
}

// Ref is what a snapshot records of the file: its generation, how many
// rows it covers and their CRC32-C.
type Ref struct {
	Gen  uint64
	Rows uint64
	CRC  uint32
}

// FileName is the name of generation gen's file.
func FileName(gen uint64) string { return fmt.Sprintf("%020d%s", gen, suffix) }

// List returns the generations of the files in dir, ascending (none if dir
// does not exist).
func List(fsys wal.FS, dir string) ([]uint64, error) {
	names, err := fsys.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list vectors files in %s: %w", dir, err)
	}
	var gens []uint64
	for _, n := range names {
		if !strings.HasSuffix(n, suffix) || len(n) != 20+len(suffix) {
			continue
		}
		g, err := strconv.ParseUint(strings.TrimSuffix(n, suffix), 10, 64)
		if err == nil {
			gens = append(gens, g)
		}
	}
	return gens, nil
}

// File is one open vectors file. It is safe for concurrent use: reads and
// writes of different rows go on in parallel (pread/pwrite).
type File struct {
	fsys wal.FS
	path string
	gen  uint64
	dim  int
	row  int64 // bytes per row
	f    wal.File

	mu      sync.Mutex // guards covered and crc (Commit), and tail
	covered uint64
	crc     uint32

	// readOnly files keep rows written past base (a read-only reader
	// replaying the log) in memory, in tail, instead of in the file.
	readOnly bool
	base     uint64
	tail     map[uint32][]float32
}

// Gen is the file's generation.
func (f *File) Gen() uint64 { return f.gen }

// Path is the file's path.
func (f *File) Path() string { return f.path }

func header(dim int, gen uint64) []byte {
	h := make([]byte, headerSize)
	copy(h, magic)
	le := binary.LittleEndian
	le.PutUint32(h[8:], version)
	le.PutUint32(h[12:], uint32(dim))
	le.PutUint64(h[16:], gen)
	le.PutUint32(h[60:], crc32.Checksum(h[:60], castagnoli))
	return h
}

// Create makes generation gen's file in dir (creating dir durably), with
// no rows, and makes its existence durable.
func Create(fsys wal.FS, dir string, gen uint64, dim int) (*File, error) {
	if dim < 1 || dim > MaxDim {
		return nil, fmt.Errorf("vecfile: dimension %d not in 1..%d", dim, MaxDim)
	}
	if err := wal.MkdirAllDurable(fsys, dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName(gen))
	wf, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create vectors file %s: %w", path, err)
	}
	f := &File{fsys: fsys, path: path, gen: gen, dim: dim, row: int64(dim) * 4, f: wf, crc: crc32.Checksum(nil, castagnoli)}
	if _, err := wf.WriteAt(header(dim, gen), 0); err != nil {
		_ = wf.Close()
		return nil, fmt.Errorf("write header of %s: %w", path, err)
	}
	if err := wf.Sync(); err != nil {
		_ = wf.Close()
		return nil, fmt.Errorf("sync %s: %w", path, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		_ = wf.Close()
		return nil, fmt.Errorf("sync %s: %w", dir, err)
	}
	_ = adviseRandom(wf)
	return f, nil
}

// Open opens the file ref names in dir, checks its header and the CRC of
// its first ref.Rows rows, and cuts it back to those rows.
func Open(fsys wal.FS, dir string, dim int, ref Ref) (*File, error) {
	return open(fsys, dir, dim, ref, false)
}

// OpenReadOnly is Open for a reader that must not change the data
// directory: the checks are the same, nothing is cut back, and rows
// written past ref.Rows (by a replay of the log) are kept in memory.
func OpenReadOnly(fsys wal.FS, dir string, dim int, ref Ref) (*File, error) {
	return open(fsys, dir, dim, ref, true)
}

func open(fsys wal.FS, dir string, dim int, ref Ref, readOnly bool) (*File, error) {
	if dim < 1 || dim > MaxDim {
		return nil, fmt.Errorf("vecfile: dimension %d not in 1..%d", dim, MaxDim)
	}
	path := filepath.Join(dir, FileName(ref.Gen))
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	wf, err := fsys.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("open vectors file %s: %w", path, err)
	}
	f := &File{fsys: fsys, path: path, gen: ref.Gen, dim: dim, row: int64(dim) * 4, f: wf, crc: crc32.Checksum(nil, castagnoli),
		readOnly: readOnly, base: ref.Rows}
	if err := f.check(ref, readOnly); err != nil {
		_ = wf.Close()
		return nil, err
	}
	_ = adviseRandom(wf) // after the check's sequential read
	return f, nil
}

func (f *File) check(ref Ref, readOnly bool) error {
	h := make([]byte, headerSize)
	if _, err := f.f.ReadAt(h, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return &CorruptError{Path: f.path, Reason: "shorter than its header"}
		}
		return fmt.Errorf("read header of %s: %w", f.path, err)
	}
	want := header(f.dim, f.gen)
	switch {
	case string(h[:8]) != magic:
		return &CorruptError{Path: f.path, Reason: "bad magic"}
	case binary.LittleEndian.Uint32(h[60:]) != crc32.Checksum(h[:60], castagnoli):
		return &CorruptError{Path: f.path, Offset: 60, Reason: "header checksum mismatch"}
	case string(h) != string(want):
		return &CorruptError{Path: f.path, Offset: 8, Reason: fmt.Sprintf("header is for version %d, dimension %d, generation %d; want 1, %d, %d",
			binary.LittleEndian.Uint32(h[8:]), binary.LittleEndian.Uint32(h[12:]), binary.LittleEndian.Uint64(h[16:]), f.dim, f.gen)}
	}
	fi, err := f.f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", f.path, err)
	}
	need := headerSize + int64(ref.Rows)*f.row
	if ref.Rows > math.MaxInt64/uint64(f.row) || fi.Size() < need {
		return &CorruptError{Path: f.path, Offset: fi.Size(), Reason: fmt.Sprintf("holds %d bytes, the snapshot needs %d rows (%d bytes)", fi.Size(), ref.Rows, need)}
	}
	if err := f.extendCRC(ref.Rows); err != nil {
		return err
	}
	if f.crc != ref.CRC {
		return &CorruptError{Path: f.path, Offset: headerSize, Reason: fmt.Sprintf("rows 0..%d have CRC32-C %08x, the snapshot says %08x", ref.Rows, f.crc, ref.CRC)}
	}
	if fi.Size() > need && !readOnly {
		// Rows of nodes the snapshot does not have: the log's replay
		// writes them again.
		if err := f.f.Truncate(need); err != nil {
			return fmt.Errorf("cut %s back to %d rows: %w", f.path, ref.Rows, err)
		}
	}
	return nil
}

// extendCRC reads rows [covered, rows) and adds them to the running CRC.
func (f *File) extendCRC(rows uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	buf := make([]byte, copyRows*f.row)
	for f.covered < rows {
		n := min(uint64(copyRows), rows-f.covered)
		b := buf[:int64(n)*f.row]
		off := headerSize + int64(f.covered)*f.row
		if _, err := f.f.ReadAt(b, off); err != nil {
			if errors.Is(err, io.EOF) {
				return &CorruptError{Path: f.path, Offset: off, Reason: "ends inside the rows the snapshot covers"}
			}
			return fmt.Errorf("read %s at %d: %w", f.path, off, err)
		}
		f.crc = crc32.Update(f.crc, castagnoli, b)
		f.covered += n
	}
	return nil
}

// Commit makes rows [0, rows) durable (fsync) and returns the Ref a
// snapshot records for them. rows may not be below an earlier Commit's.
func (f *File) Commit(rows uint64) (Ref, error) {
	if f.readOnly {
		return Ref{}, fmt.Errorf("vecfile %s: opened read-only", f.path)
	}
	f.mu.Lock()
	covered := f.covered
	f.mu.Unlock()
	if rows < covered {
		return Ref{}, fmt.Errorf("vecfile %s: commit of %d rows after %d", f.path, rows, covered)
	}
	if err := f.extendCRC(rows); err != nil {
		return Ref{}, err
	}
	if err := f.f.Sync(); err != nil {
		return Ref{}, fmt.Errorf("sync %s: %w", f.path, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return Ref{Gen: f.gen, Rows: rows, CRC: f.crc}, nil
}

// Sync makes everything written so far durable.
func (f *File) Sync() error {
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.path, err)
	}
	return nil
}

func (f *File) bytesOf(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*4)
}

// WriteVectors writes vecs (a whole number of rows) as rows first...
func (f *File) WriteVectors(first uint32, vecs []float32) error {
	if len(vecs)%f.dim != 0 {
		return fmt.Errorf("vecfile %s: %d values are not whole rows of %d", f.path, len(vecs), f.dim)
	}
	b := f.bytesOf(vecs)
	if !littleEndian {
		b = make([]byte, len(vecs)*4)
		for i, x := range vecs {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
	}
	if f.readOnly {
		return f.writeTail(first, vecs)
	}
	off := headerSize + int64(first)*f.row
	if _, err := f.f.WriteAt(b, off); err != nil {
		return fmt.Errorf("write vectors file %s at %d: %w", f.path, off, err)
	}
	return nil
}

func (f *File) writeTail(first uint32, vecs []float32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tail == nil {
		f.tail = make(map[uint32][]float32)
	}
	for i := 0; i < len(vecs)/f.dim; i++ {
		row := first + uint32(i)
		if uint64(row) < f.base {
			return fmt.Errorf("vecfile %s: read-only, row %d is in the file", f.path, row)
		}
		f.tail[row] = append([]float32(nil), vecs[i*f.dim:(i+1)*f.dim]...)
	}
	return nil
}

// ReadVectors fills dst (a whole number of rows) with rows first...; rows
// past the end of the file read as zeros.
func (f *File) ReadVectors(first uint32, dst []float32) error {
	if len(dst)%f.dim != 0 {
		return fmt.Errorf("vecfile %s: %d values are not whole rows of %d", f.path, len(dst), f.dim)
	}
	b := f.bytesOf(dst)
	off := headerSize + int64(first)*f.row
	n, err := f.f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read vectors file %s at %d: %w", f.path, off, err)
	}
	clear(b[n:])
	if !littleEndian {
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	if f.readOnly {
		f.mu.Lock()
		defer f.mu.Unlock()
		for i := 0; i < len(dst)/f.dim; i++ {
			if row := first + uint32(i); uint64(row) >= f.base {
				copy(dst[i*f.dim:(i+1)*f.dim], f.tail[row]) // zeros stay if absent
			}
		}
	}
	return nil
}

// Compact writes generation gen in the same directory with the rows
// renumbered by oldToNew (oldToNew[old] is the new row, math.MaxUint32 to
// drop it; new rows must be dense and in the order of their old rows, as
// a vacuum makes them), fsyncs it, and returns it open with every row
// committed. f is left as it was.
func (f *File) Compact(oldToNew []uint32, gen uint64) (*File, error) {
	nf, err := Create(f.fsys, filepath.Dir(f.path), gen, f.dim)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*File, error) {
		_ = nf.Close()
		_ = f.fsys.Remove(nf.path)
		return nil, err
	}
	buf := make([]float32, copyRows*f.dim)
	out := make([]float32, 0, copyRows*f.dim)
	next := uint32(0)
	flush := func() error {
		if len(out) == 0 {
			return nil
		}
		rows := uint32(len(out) / f.dim)
		if err := nf.WriteVectors(next-rows, out); err != nil {
			return err
		}
		out = out[:0]
		return nil
	}
	for start := 0; start < len(oldToNew); start += copyRows {
		end := min(start+copyRows, len(oldToNew))
		if err := f.ReadVectors(uint32(start), buf[:(end-start)*f.dim]); err != nil {
			return fail(err)
		}
		for old := start; old < end; old++ {
			nw := oldToNew[old]
			if nw == math.MaxUint32 {
				continue
			}
			if nw != next {
				return fail(fmt.Errorf("vecfile compact: row %d moves to %d, want %d", old, nw, next))
			}
			out = append(out, buf[(old-start)*f.dim:(old-start+1)*f.dim]...)
			next++
			if len(out) == cap(out) {
				if err := flush(); err != nil {
					return fail(err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return fail(err)
	}
	if _, err := nf.Commit(uint64(next)); err != nil {
		return fail(err)
	}
	return nf, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }
