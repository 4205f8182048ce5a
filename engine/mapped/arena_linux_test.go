package mapped

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestAllocIsZeroedAlignedAndFileBacked(t *testing.T) {
	a := open(t, Options{SegmentBytes: 64 << 10})
	var regions [][]byte
	for i, n := range []int{1, 100, 4096, 10000, 70 << 10 /* larger than a segment */, 33} {
		b := a.Alloc(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("region %d: len %d cap %d, want %d", i, len(b), cap(b), n)
		}
		if !aligned(b) {
			t.Fatalf("region %d is not %d-byte aligned", i, Align)
		}
		for _, x := range b {
			if x != 0 {
				t.Fatalf("region %d is not zeroed", i)
			}
		}
		for j := range b {
			b[j] = byte(i + 1)
		}
		regions = append(regions, b)
	}
	st := a.Stats()
	if st.Fallbacks != 0 || st.HeapBytes != 0 {
		t.Fatalf("fell back to the heap: %+v", st)
	}
	if st.Segments < 2 || st.MappedBytes < 64<<10+70<<10 {
		t.Fatalf("stats %+v: want a segment of its own for the large region", st)
	}
	// The bytes are in the segment files: they are page cache, not heap.
	var inFiles int
	ents, err := os.ReadDir(a.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(a.Dir(), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		inFiles += bytes.Count(raw, []byte{4}) // the 10000-byte region
	}
	if inFiles != 10000 {
		t.Fatalf("found %d bytes of region 3 in the segment files, want 10000", inFiles)
	}
	for i, b := range regions {
		for _, x := range b {
			if x != byte(i+1) {
				t.Fatalf("region %d overwritten", i)
			}
		}
	}
}

// TestFreeKeepsReuseZeroed: Free drops a region's pages from the process
// (MADV_DONTNEED), after which touching them reads the file again; a
// reuse of the region must still hand out zeroes.
func TestFreeKeepsReuseZeroed(t *testing.T) {
	a := open(t, Options{SegmentBytes: 1 << 20})
	b := a.Alloc(256 << 10)
	for i := range b {
		b[i] = 7
	}
	a.Free(b)
	c := a.Alloc(256 << 10)
	if &c[0] != &b[0] {
		t.Fatal("the freed region was not reused")
	}
	if !bytes.Equal(c, make([]byte, len(c))) {
		t.Fatal("a reused region whose pages were dropped is not zeroed")
	}
}
