package vecfile

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/akidb/akidb/engine/wal"
)

func rows(r *rand.Rand, n, dim int) []float32 {
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func mustCreate(t *testing.T, fsys wal.FS, dir string, gen uint64, dim int) *File {
	t.Helper()
	f, err := Create(fsys, dir, gen, dim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// TestWriteReadCommitOpen: rows written out of order read back; Commit's
// Ref opens the file again, and Open cuts off rows past the Ref.
func TestWriteReadCommitOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vectors")
	r := rand.New(rand.NewPCG(1, 1))
	const dim = 7
	data := rows(r, 600, dim)
	f := mustCreate(t, wal.OSFS{}, dir, 3, dim)
	for _, i := range r.Perm(600) {
		if err := f.WriteVectors(uint32(i), data[i*dim:(i+1)*dim]); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]float32, 600*dim)
	if err := f.ReadVectors(0, got); err != nil || !slices.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	// Past the end: zeros.
	past := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	if err := f.ReadVectors(599, past); err != nil || !slices.Equal(past[:dim], data[599*dim:]) || slices.ContainsFunc(past[dim:], func(x float32) bool { return x != 0 }) {
		t.Fatalf("read across the end: %v %v", past, err)
	}
	ref, err := f.Commit(500)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Gen != 3 || ref.Rows != 500 {
		t.Fatalf("ref %+v", ref)
	}
	if _, err := f.Commit(400); err == nil {
		t.Fatal("Commit went backwards")
	}
	ref2, err := f.Commit(600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := Open(wal.OSFS{}, dir, dim, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if fi, _ := os.Stat(g.Path()); fi.Size() != headerSize+500*dim*4 {
		t.Fatalf("size after Open %d, want the 500 rows of the ref", fi.Size())
	}
	if err := g.ReadVectors(0, got[:500*dim]); err != nil || !slices.Equal(got[:500*dim], data[:500*dim]) {
		t.Fatal("rows changed")
	}
	// The CRC continues from the Ref: committing the same rows again gives
	// what the first file's Commit(600) gave.
	if err := g.WriteVectors(500, data[500*dim:]); err != nil {
		t.Fatal(err)
	}
	if again, err := g.Commit(600); err != nil || again != ref2 {
		t.Fatalf("Commit after reopening: %+v %v, want %+v", again, err, ref2)
	}
	if gens, err := List(wal.OSFS{}, dir); err != nil || !slices.Equal(gens, []uint64{3}) {
		t.Fatalf("List: %v %v", gens, err)
	}
}

// TestOpenRefusesDamage: every kind of damage is a *CorruptError naming
// the file.
func TestOpenRefusesDamage(t *testing.T) {
	const dim = 4
	r := rand.New(rand.NewPCG(2, 2))
	data := rows(r, 100, dim)
	make1 := func(t *testing.T) (string, Ref) {
		dir := t.TempDir()
		f := mustCreate(t, wal.OSFS{}, dir, 9, dim)
		if err := f.WriteVectors(0, data); err != nil {
			t.Fatal(err)
		}
		ref, err := f.Commit(100)
		if err != nil {
			t.Fatal(err)
		}
		return dir, ref
	}
	for name, c := range map[string]struct {
		edit func(path string) error
		dim  int
		ref  func(Ref) Ref
	}{
		"magic":     {edit: func(p string) error { return patch(p, 0, 'X') }},
		"header":    {edit: func(p string) error { return patch(p, 30, 1) }},
		"row flip":  {edit: func(p string) error { return patch(p, headerSize+17, 0x40) }},
		"truncated": {edit: func(p string) error { return os.Truncate(p, headerSize+99*dim*4) }},
		"dim":       {dim: dim + 1},
		"crc":       {ref: func(r Ref) Ref { r.CRC++; return r }},
		"rows":      {ref: func(r Ref) Ref { r.Rows = 101; return r }},
		"huge rows": {ref: func(r Ref) Ref { r.Rows = math.MaxUint64 / 2; return r }},
	} {
		t.Run(name, func(t *testing.T) {
			dir, ref := make1(t)
			path := filepath.Join(dir, FileName(ref.Gen))
			if c.edit != nil {
				if err := c.edit(path); err != nil {
					t.Fatal(err)
				}
			}
			d := dim
			if c.dim != 0 {
				d = c.dim
			}
			if c.ref != nil {
				ref = c.ref(ref)
			}
			_, err := Open(wal.OSFS{}, dir, d, ref)
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != path {
				t.Fatalf("Open: %v, want a CorruptError for %s", err, path)
			}
		})
	}
}

func patch(path string, off int64, xor byte) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		return err
	}
	b[0] ^= xor
	_, err = f.WriteAt(b, off)
	return err
}

// TestCompact: rows move as a vacuum moves nodes, into a new generation
// that opens with its returned Ref; bad maps are refused and leave no file.
func TestCompact(t *testing.T) {
	const dim = 3
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 3))
	data := rows(r, 2500, dim)
	f := mustCreate(t, wal.OSFS{}, dir, 1, dim)
	if err := f.WriteVectors(0, data); err != nil {
		t.Fatal(err)
	}
	oldToNew := make([]uint32, 2500)
	var want []float32
	next := uint32(0)
	for i := range oldToNew {
		if i%3 == 1 {
			oldToNew[i] = math.MaxUint32
			continue
		}
		oldToNew[i] = next
		next++
		want = append(want, data[i*dim:(i+1)*dim]...)
	}
	nf, err := f.Compact(oldToNew, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := nf.Commit(uint64(next))
	if err != nil {
		t.Fatal(err)
	}
	_ = nf.Close()
	g, err := Open(wal.OSFS{}, dir, dim, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got := make([]float32, len(want))
	if err := g.ReadVectors(0, got); err != nil || !slices.Equal(got, want) {
		t.Fatalf("compacted rows differ: %v", err)
	}
	oldToNew[5] = 77
	if _, err := f.Compact(oldToNew, 4); err == nil {
		t.Fatal("a non-dense map was accepted")
	}
	if gens, _ := List(wal.OSFS{}, dir); !slices.Equal(gens, []uint64{1, 2}) {
		t.Fatalf("files after a refused compaction: %v", gens)
	}
}

// TestWriteAndSyncFailures: a failing write or fsync is an error naming
// the file, never a silent success.
func TestWriteAndSyncFailures(t *testing.T) {
	dir := t.TempDir()
	ffs := wal.NewFaultFS(wal.OSFS{})
	f, err := Create(ffs, dir, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	boom := errors.New("boom")
	ffs.AddRule(wal.Rule{Op: wal.OpWrite, Nth: 1, Err: boom})
	if err := f.WriteVectors(0, []float32{1, 2}); !errors.Is(err, boom) {
		t.Fatalf("write: %v", err)
	}
	ffs.AddRule(wal.Rule{Op: wal.OpSync, Nth: 1, Err: boom})
	if _, err := f.Commit(0); !errors.Is(err, boom) {
		t.Fatalf("commit: %v", err)
	}
	if err := f.WriteVectors(0, []float32{1}); err == nil {
		t.Fatal("half a row accepted")
	}
	if _, err := Create(ffs, dir, 2, 0); err == nil {
		t.Fatal("dimension 0 accepted")
	}
}

// TestReadOnly: a read-only file is checked like any other, never cut back
// or written, and keeps rows written past its Ref in memory.
func TestReadOnly(t *testing.T) {
	const dim = 2
	dir := t.TempDir()
	f := mustCreate(t, wal.OSFS{}, dir, 5, dim)
	if err := f.WriteVectors(0, []float32{1, 2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	ref, err := f.Commit(2)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(wal.OSFS{}, dir, dim, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if fi, _ := os.Stat(ro.Path()); fi.Size() != headerSize+3*dim*4 {
		t.Fatalf("read-only open changed the file: %d bytes", fi.Size())
	}
	if err := ro.WriteVectors(2, []float32{7, 8}); err != nil {
		t.Fatal(err)
	}
	if err := ro.WriteVectors(1, []float32{0, 0}); err == nil {
		t.Fatal("a row inside the file was overwritten read-only")
	}
	got := make([]float32, 8)
	if err := ro.ReadVectors(0, got); err != nil || !slices.Equal(got, []float32{1, 2, 3, 4, 7, 8, 0, 0}) {
		t.Fatalf("read %v %v", got, err)
	}
	if _, err := ro.Commit(3); err == nil {
		t.Fatal("Commit on a read-only file")
	}
}
