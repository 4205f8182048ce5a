package dataset

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveTopK sorts all rows: the obviously-correct reference.
func naiveTopK(base Matrix, q []float32, k int, dist DistanceFunc) []int32 {
	ids := make([]int32, base.N)
	ds := make([]float64, base.N)
	for i := range ids {
		ids[i] = int32(i)
		ds[i] = float64(dist(q, base.Row(i)))
	}
	slices.SortStableFunc(ids, func(a, b int32) int {
		switch {
		case ds[a] < ds[b]:
			return -1
		case ds[a] > ds[b]:
			return 1
		}
		return 0 // stable: lower index first
	})
	return ids[:min(k, len(ids))]
}

func TestGroundTruthMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	base := randomMatrix(rng, 500, 13)
	queries := randomMatrix(rng, 40, 13)
	for _, dist := range []DistanceFunc{SquaredL2, DotDistance} {
		for _, k := range []int{1, 10, 100} {
			gt, err := GroundTruth(context.Background(), base, queries, k, dist, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(gt) != queries.N {
				t.Fatalf("%d rows, want %d", len(gt), queries.N)
			}
			for q := range gt {
				want := naiveTopK(base, queries.Row(q), k, dist)
				if !slices.Equal(gt[q], want) {
					t.Fatalf("k=%d query %d: %v, want %v", k, q, gt[q], want)
				}
			}
		}
	}
}

// FilteredGroundTruth equals the naive top k of the admitted rows, for a
// filter admitting every row (nil), about half, one row, none, and a mask
// shorter than the base set.
func TestFilteredGroundTruthMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	base := randomMatrix(rng, 300, 9)
	queries := randomMatrix(rng, 20, 9)
	half := make([]bool, base.N)
	for i := range half {
		half[i] = rng.IntN(2) == 0
	}
	one := make([]bool, base.N)
	one[77] = true
	allowed := [][]bool{nil, half, one, make([]bool, base.N), half[:100]}
	for _, k := range []int{1, 10, 400} {
		gt, err := FilteredGroundTruth(context.Background(), base, queries, k, SquaredL2, 2, allowed)
		if err != nil {
			t.Fatal(err)
		}
		for f, a := range allowed {
			for q := range queries.N {
				var want []int32
				for _, id := range naiveTopK(base, queries.Row(q), base.N, SquaredL2) {
					if (a == nil || int(id) < len(a) && a[id]) && len(want) < k {
						want = append(want, id)
					}
				}
				if !slices.Equal(gt[f][q], want) && !(len(want) == 0 && len(gt[f][q]) == 0) {
					t.Fatalf("k=%d filter %d query %d: %v, want %v", k, f, q, gt[f][q], want)
				}
			}
		}
	}
}

func TestGroundTruthTiesAndThreads(t *testing.T) {
	// Rows 0..9 are 5 distinct vectors each stored twice, so every distance
	// ties; lower index must come first whatever the thread count.
	base := Matrix{N: 10, Dim: 2, Data: make([]float32, 20)}
	for i := 0; i < 10; i++ {
		base.Data[2*i] = float32(4 - i%5)
	}
	queries := Matrix{N: 3, Dim: 2, Data: []float32{0, 0, 4, 0, 2, 0}}
	want := [][]int32{
		{4, 9, 3, 8, 2, 7},
		{0, 5, 1, 6, 2, 7},
		{2, 7, 1, 3, 6, 8},
	}
	for _, threads := range []int{0, 1, 2, 8} {
		gt, err := GroundTruth(context.Background(), base, queries, 6, SquaredL2, threads)
		if err != nil {
			t.Fatal(err)
		}
		for q := range want {
			if !slices.Equal(gt[q], want[q]) {
				t.Fatalf("threads=%d query %d: %v, want %v", threads, q, gt[q], want[q])
			}
		}
	}
}

func TestGroundTruthNaNAndSmallBase(t *testing.T) {
	nan := float32(math.NaN())
	base := Matrix{N: 3, Dim: 1, Data: []float32{nan, 5, 1}}
	queries := Matrix{N: 1, Dim: 1, Data: []float32{0}}
	gt, err := GroundTruth(context.Background(), base, queries, 10, SquaredL2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{2, 1, 0}; !slices.Equal(gt[0], want) {
		t.Fatalf("got %v, want %v (k > N returns N ids, NaN last)", gt[0], want)
	}
}

func TestGroundTruthErrors(t *testing.T) {
	ctx := context.Background()
	a := Matrix{N: 2, Dim: 2, Data: make([]float32, 4)}
	b := Matrix{N: 1, Dim: 3, Data: make([]float32, 3)}
	if _, err := GroundTruth(ctx, a, b, 1, SquaredL2, 1); err == nil {
		t.Error("accepted mismatched dims")
	}
	if _, err := GroundTruth(ctx, a, a, 0, SquaredL2, 1); err == nil {
		t.Error("accepted k=0")
	}
	if _, err := GroundTruth(ctx, a, a, 1, nil, 1); err == nil {
		t.Error("accepted a nil distance")
	}
	if _, err := GroundTruth(ctx, Matrix{N: 2, Dim: 2}, a, 1, SquaredL2, 1); err == nil {
		t.Error("accepted a base whose Data does not match its shape")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := GroundTruth(cctx, a, a, 1, SquaredL2, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestDistances(t *testing.T) {
	// Awkward lengths exercise the unrolled loop and its tail.
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 3, 4, 5, 31, 67} {
		a := randomMatrix(rng, 1, n).Data
		b := randomMatrix(rng, 1, n).Data
		var l2, dot float64
		for i := range a {
			d := float64(a[i]) - float64(b[i])
			l2 += d * d
			dot += float64(a[i]) * float64(b[i])
		}
		if got := SquaredL2(a, b); math.Abs(float64(got)-l2) > 1e-4 {
			t.Errorf("n=%d SquaredL2 = %v, want %v", n, got, l2)
		}
		if got := DotDistance(a, b); math.Abs(float64(got)-(1-dot)) > 1e-4 {
			t.Errorf("n=%d DotDistance = %v, want %v", n, got, 1-dot)
		}
	}
}

func TestRecall(t *testing.T) {
	gt := [][]int32{{1, 2, 3, 4}, {5, 6, 7, 8}}
	cases := []struct {
		got  [][]int32
		k    int
		want float64
	}{
		{[][]int32{{1, 2, 3, 4}, {5, 6, 7, 8}}, 4, 1},
		{[][]int32{{4, 3, 2, 1}, {8, 7, 6, 5}}, 4, 1},     // order does not matter
		{[][]int32{{1, 2, 9, 9}, {5, 0, 0, 0}}, 4, 0.375}, // (2/4 + 1/4) / 2
		{[][]int32{{1, 1, 1, 1}, {}}, 4, 0.125},           // duplicates count once
		{[][]int32{{1, 2, 3, 4}}, 4, 0.5},                 // missing query scores 0
		{[][]int32{{3, 4, 1, 2}, {5, 8, 6, 7}}, 2, 0.25},  // only got[:k] vs gt[:k]
		{[][]int32{{1, 2, 3, 4}, {5, 6, 7, 8}}, 10, 1},    // k beyond gt: out of len(gt)
	}
	for i, tc := range cases {
		if got := Recall(tc.got, gt, tc.k); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("case %d: Recall = %v, want %v", i, got, tc.want)
		}
	}
	if got := Recall(nil, nil, 10); got != 0 {
		t.Errorf("empty gt: %v", got)
	}
	// The map path for long rows agrees with the scan.
	long := make([]int32, 200)
	for i := range long {
		long[i] = int32(i)
	}
	got := append(slices.Clone(long[100:]), long[:50]...)
	got = append(got, long[:50]...) // 50 duplicates
	if r := QueryRecall(got, long, 200); r != 0.75 {
		t.Errorf("long recall = %v, want 0.75", r)
	}
}
