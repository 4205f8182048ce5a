package quant

import (
	"errors"
	"fmt"
	"slices"

	"github.com/akidb/akidb/engine/distance"
)

// Training constants. The ranges are quantiles, not the extremes: one
// outlier would otherwise stretch a range and coarsen the grid for every
// other value. clipTail of the values is clamped on each side.
const (
	// clipTail is the fraction of the sample's values left outside each
	// end of a range.
	clipTail = 0.0001
	// MinTrain is the fewest vectors Train accepts: fewer make a poor
	// sample, so the engine keeps a collection in float32 until it has
	// that many.
	MinTrain = 1000
	// SampleSize is how many vectors the engine hands Train at most.
	SampleSize = 20000
	// maxCollectionValues caps the values sorted for one collection-wide
	// range (a strided subset of a larger sample).
	maxCollectionValues = 1 << 21
	// Auto choice: evalQueries held-out queries against at most evalBase
	// vectors, recall@evalK; the layouts tie within evalTie, and a tie
	// goes to collection ranges (symmetric, no correction terms).
	evalQueries = 100
	evalBase    = 2000
	evalK       = 10
	evalTie     = 0.005
)

// Train fits a quantizer to sample (vectors of equal length, finite,
// already normalised for cosine) for a collection that holds population
// vectors. With RangesAuto it trains both layouts and keeps the one whose
// codes find more of the true 10 nearest neighbours of held-out sample
// vectors (Params records both recalls).
func Train(sample [][]float32, metric distance.Metric, ranges Ranges, population int) (*Quantizer, error) {
	if len(sample) < 1 {
		return nil, errors.New("quant: train: empty sample")
	}
	if !metric.Valid() {
		return nil, fmt.Errorf("quant: train: unknown metric %d", uint8(metric))
	}
	dim := len(sample[0])
	for i, v := range sample {
		if len(v) != dim {
			return nil, fmt.Errorf("quant: train: vector %d has %d dimensions, the first has %d", i, len(v), dim)
		}
		for _, x := range v {
			if !finite32(x) {
				return nil, fmt.Errorf("quant: train: vector %d has a non-finite value", i)
			}
		}
	}
	base := Params{Metric: metric, Dim: dim, Sample: len(sample), Population: max(population, len(sample))}
	switch ranges {
	case RangesCollection:
		return build(withCollectionRanges(base, sample), sample)
	case RangesDimension:
		return build(withDimensionRanges(base, sample), sample)
	case RangesAuto:
	default:
		return nil, fmt.Errorf("quant: train: unknown ranges %v", ranges)
	}
	qc, err := build(withCollectionRanges(base, sample), sample)
	if err != nil {
		return nil, err
	}
	qd, err := build(withDimensionRanges(base, sample), sample)
	if err != nil {
		return nil, err
	}
	rc, rd := heldOutRecall(qc, sample), heldOutRecall(qd, sample)
	pick := qc
	if rd > rc+evalTie {
		pick = qd
	}
	pick.p.RecallCollection, pick.p.RecallDimension = float32(rc), float32(rd)
	return pick, nil
}

// build makes the quantizer and measures the sample's clamped fraction.
func build(p Params, sample [][]float32) (*Quantizer, error) {
	q, err := New(p)
	if err != nil {
		return nil, fmt.Errorf("quant: train: values beyond ±%g cannot be quantized: %w", MaxAbs, err)
	}
	code := make([]int8, p.Dim)
	var clamped int
	for _, v := range sample {
		_, c := q.encode(code, v)
		clamped += c
	}
	q.p.BaselineClamp = float32(float64(clamped) / float64(len(sample)*p.Dim))
	return q, nil
}

func withCollectionRanges(p Params, sample [][]float32) Params {
	total := len(sample) * p.Dim
	stride := max(1, (total+maxCollectionValues-1)/maxCollectionValues)
	vals := make([]float32, 0, (total+stride-1)/stride)
	for i := 0; i < total; i += stride {
		vals = append(vals, sample[i/p.Dim][i%p.Dim])
	}
	lo, hi := quantileRange(vals)
	p.Ranges, p.Lo, p.Hi = RangesCollection, []float32{lo}, []float32{hi}
	return p
}

func withDimensionRanges(p Params, sample [][]float32) Params {
	p.Ranges, p.Lo, p.Hi = RangesDimension, make([]float32, p.Dim), make([]float32, p.Dim)
	col := make([]float32, len(sample))
	for d := range p.Dim {
		for i, v := range sample {
			col[i] = v[d]
		}
		p.Lo[d], p.Hi[d] = quantileRange(col)
	}
	return p
}

// quantileRange sorts vals in place and returns its clipTail and
// 1-clipTail quantiles.
func quantileRange(vals []float32) (lo, hi float32) {
	slices.Sort(vals)
	n := len(vals)
	k := int(clipTail * float64(n))
	return vals[k], vals[n-1-k]
}

// heldOutRecall is the recall@evalK of q's distances on sample: evenly
// spaced sample vectors are the queries, the first evalBase others the
// base, and the truth is the exact metric.
func heldOutRecall(q *Quantizer, sample [][]float32) float64 {
	n := len(sample)
	nq := min(evalQueries, n/2)
	if nq == 0 {
		return 0
	}
	isQuery := make(map[int]bool, nq)
	queries := make([]int, 0, nq)
	for i := 0; i < nq; i++ {
		j := i * n / nq
		isQuery[j] = true
		queries = append(queries, j)
	}
	var base []int
	for i := 0; i < n && len(base) < evalBase; i++ {
		if !isQuery[i] {
			base = append(base, i)
		}
	}
	k := min(evalK, len(base))
	codes := make([][]int8, len(base))
	corr := make([]float32, len(base))
	for i, b := range base {
		codes[i] = make([]int8, q.p.Dim)
		corr[i] = q.Reencode(codes[i], sample[b])
	}
	exact := q.p.Metric.Func()
	var hits int
	var prep distance.Int8Query
	type scored struct {
		d  float32
		id int
	}
	trueTop, approxTop := make([]scored, len(base)), make([]scored, len(base))
	for _, qi := range queries {
		qv := sample[qi]
		q.Prepare(&prep, qv)
		for i, b := range base {
			trueTop[i] = scored{exact(qv, sample[b]), i}
			approxTop[i] = scored{prep.Dist(codes[i], corr[i]), i}
		}
		less := func(a, b scored) int {
			if a.d != b.d {
				if a.d < b.d {
					return -1
				}
				return 1
			}
			return a.id - b.id
		}
		slices.SortFunc(trueTop, less)
		slices.SortFunc(approxTop, less)
		want := make(map[int]bool, k)
		for _, s := range trueTop[:k] {
			want[s.id] = true
		}
		for _, s := range approxTop[:k] {
			if want[s.id] {
				hits++
			}
		}
	}
	return float64(hits) / float64(k*len(queries))
}
