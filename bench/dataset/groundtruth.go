package dataset

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// GroundTruth computes the exact k nearest rows of base for every query by
// brute force, best first, in parallel over queries on threads goroutines
// (threads <= 0 means 1). Ties in distance go to the lower row index and a NaN
// distance ranks after every number, so the result is the same for any thread
// count. If k > base.N every row holds base.N ids. It stops early with
// ctx.Err() when ctx is cancelled.
func GroundTruth(ctx context.Context, base, queries Matrix, k int, dist DistanceFunc, threads int) ([][]int32, error) {
	gt, err := FilteredGroundTruth(ctx, base, queries, k, dist, threads, [][]bool{nil})
	if err != nil {
		return nil, err
	}
	return gt[0], nil
}

// FilteredGroundTruth is GroundTruth for several filters at once, from one
// pass of distances per query: gt[f][q] holds the exact k nearest rows
// among those allowed[f] admits (allowed[f][row]; a nil allowed[f] admits
// every row, a shorter one none past its end), fewer when fewer are
// admitted.
func FilteredGroundTruth(ctx context.Context, base, queries Matrix, k int, dist DistanceFunc, threads int, allowed [][]bool) ([][][]int32, error) {
	if err := base.Validate(); err != nil {
		return nil, fmt.Errorf("ground truth: base: %w", err)
	}
	if err := queries.Validate(); err != nil {
		return nil, fmt.Errorf("ground truth: queries: %w", err)
	}
	if base.Dim != queries.Dim {
		return nil, fmt.Errorf("ground truth: base dim %d != query dim %d", base.Dim, queries.Dim)
	}
	if k <= 0 {
		return nil, fmt.Errorf("ground truth: k = %d, want >= 1", k)
	}
	if dist == nil {
		return nil, fmt.Errorf("ground truth: nil distance function")
	}
	if base.N > math.MaxInt32 {
		return nil, fmt.Errorf("ground truth: %d base rows do not fit int32 ids", base.N)
	}
	threads = max(threads, 1)
	kk := min(k, base.N)
	out := make([][][]int32, len(allowed))
	for f := range out {
		out[f] = make([][]int32, queries.N)
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			heaps := make([]topK, len(allowed))
			for f := range heaps {
				heaps[f] = make(topK, 0, kk+1)
			}
			for {
				q := int(next.Add(1) - 1)
				if q >= queries.N || ctx.Err() != nil {
					return
				}
				for f := range heaps {
					heaps[f] = heaps[f][:0]
				}
				qv := queries.Row(q)
				for i := 0; i < base.N; i++ {
					d := dist(qv, base.Row(i))
					if d != d { // NaN: worse than any number, keeps the order total
						d = float32(math.Inf(1))
					}
					for f, a := range allowed {
						if a == nil || i < len(a) && a[i] {
							heaps[f].offer(neighbor{d, int32(i)}, kk)
						}
					}
				}
				for f, h := range heaps {
					slices.SortFunc(h, func(a, b neighbor) int {
						if a.less(b) {
							return -1
						}
						return 1 // ids are unique, so never equal
					})
					row := make([]int32, len(h))
					for j := range row {
						row[j] = h[j].id
					}
					out[f][q] = row
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	return out, nil
}

type neighbor struct {
	d  float32
	id int32
}

// less orders by distance, then by lower id.
func (a neighbor) less(b neighbor) bool {
	if a.d != b.d {
		return a.d < b.d
	}
	return a.id < b.id
}

// topK is a max-heap (worst at index 0) holding the best k neighbours so far.
type topK []neighbor

func (h *topK) offer(n neighbor, k int) {
	s := *h
	if len(s) < k {
		s = append(s, n)
		// sift up
		for i := len(s) - 1; i > 0; {
			p := (i - 1) / 2
			if !s[p].less(s[i]) {
				break
			}
			s[p], s[i] = s[i], s[p]
			i = p
		}
		*h = s
		return
	}
	if !n.less(s[0]) {
		return
	}
	s[0] = n
	// sift down
	for i := 0; ; {
		l, r, big := 2*i+1, 2*i+2, i
		if l < len(s) && s[big].less(s[l]) {
			big = l
		}
		if r < len(s) && s[big].less(s[r]) {
			big = r
		}
		if big == i {
			break
		}
		s[i], s[big] = s[big], s[i]
		i = big
	}
}
