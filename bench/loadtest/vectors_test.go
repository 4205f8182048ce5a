package loadtest

import (
	"math"
	"slices"
	"testing"

	"github.com/akidb/akidb/bench/dataset"
)

func TestClusteredDeterministicAndClustered(t *testing.T) {
	a, err := NewClustered(16, 4, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewClustered(16, 4, 9)
	va, vb := make([]float32, 16), make([]float32, 16)
	for i := uint64(0); i < 100; i++ {
		a.Record(i, va)
		b.Record(i, vb)
		if !slices.Equal(va, vb) {
			t.Fatalf("record %d differs between sources of one seed", i)
		}
		a.Query(i, va)
		b.Query(i, vb)
		if !slices.Equal(va, vb) {
			t.Fatalf("query %d differs between sources of one seed", i)
		}
	}
	a.Record(1, va)
	a.Query(1, vb)
	if slices.Equal(va, vb) {
		t.Fatal("record and query streams must differ")
	}
	// Each vector lies near one of the centres: much nearer than the
	// centres are to each other.
	for i := uint64(0); i < 200; i++ {
		a.Record(i, va)
		best := math.Inf(1)
		for _, c := range a.centers {
			best = min(best, float64(dataset.SquaredL2(va, c)))
		}
		// Expected squared distance to its centre: dim * spread² = 4.
		if best > 16*DefaultSpread*DefaultSpread*3 {
			t.Fatalf("record %d is %g from the nearest centre", i, best)
		}
	}
	if _, err := NewClustered(0, 4, 1); err == nil {
		t.Fatal("dimension 0 accepted")
	}
	if _, err := NewClustered(4, 0, 1); err == nil {
		t.Fatal("0 clusters accepted")
	}
}

func TestFileVectors(t *testing.T) {
	m, _ := dataset.NewMatrix(10, 3)
	for i := range m.Data {
		m.Data[i] = float32(i + 1)
	}
	f, err := NewFileVectors(m, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, 3)
	f.Record(2, v)
	if !slices.Equal(v, m.Row(2)) {
		t.Fatalf("record 2 = %v, want row 2 %v", v, m.Row(2))
	}
	// Past the last row, rows are reused with a little noise: never equal.
	f.Record(12, v)
	if slices.Equal(v, m.Row(2)) {
		t.Fatal("record 12 reuses row 2 exactly")
	}
	for d := range v {
		if math.Abs(float64(v[d]-m.Row(2)[d])) > 0.1 {
			t.Fatalf("record 12 = %v, too far from row 2 %v", v, m.Row(2))
		}
	}
	// Queries come from rows the preload does not use.
	for j := uint64(0); j < 50; j++ {
		f.Query(j, v)
		if v[0] < m.Row(4)[0] {
			t.Fatalf("query %d = %v uses a preloaded row", j, v)
		}
	}
	if f.firstZeroRow() != -1 {
		t.Fatal("no zero row expected")
	}
	clear(m.Row(7))
	if f.firstZeroRow() != 7 {
		t.Fatalf("zero row %d, want 7", f.firstZeroRow())
	}
}
