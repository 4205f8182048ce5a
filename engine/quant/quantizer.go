package quant

import (
	"math"
	"sync/atomic"

	"github.com/akidb/akidb/engine/distance"
)

// Quantizer maps float32 vectors to int8 codes and back, and prepares
// queries for the int8 kernels. It is immutable apart from its drift
// counters, and safe for concurrent use.
type Quantizer struct {
	p Params
	// Per dimension (a single range is expanded): the range's low end,
	// the step s = (hi-lo)/255, its inverse (0 when s is 0), and the
	// value of code 0, mid = lo + 128*s, so a code c stands for mid + s*c.
	lo, step, inv, mid []float32
	// corr: codes carry a correction term (per-dimension L2 only).
	corr bool

	// Components encoded by Encode since training, and how many of them
	// fell outside their range and were clamped.
	encoded, clamped atomic.Int64
}

// New builds a quantizer from validated parameters.
func New(p Params) (*Quantizer, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	q := &Quantizer{p: p, corr: p.Ranges == RangesDimension && p.Metric == distance.L2}
	q.lo, q.step = make([]float32, p.Dim), make([]float32, p.Dim)
	q.inv, q.mid = make([]float32, p.Dim), make([]float32, p.Dim)
	for i := range p.Dim {
		r := 0
		if p.Ranges == RangesDimension {
			r = i
		}
		lo, hi := p.Lo[r], p.Hi[r]
		s := float32((float64(hi) - float64(lo)) / 255)
		q.lo[i], q.step[i], q.mid[i] = lo, s, lo+128*s
		if s > 0 {
			q.inv[i] = 1 / s
		}
	}
	return q, nil
}

// Params returns the parameters the quantizer was built from.
func (q *Quantizer) Params() Params { return q.p }

// Dim is the length of a vector and of its code.
func (q *Quantizer) Dim() int { return q.p.Dim }

// HasCorr reports whether codes carry a correction term that distances
// need (Encode's result), so the caller must store it beside the code.
func (q *Quantizer) HasCorr() bool { return q.corr }

// Encode writes v's code into code (both of length Dim) and returns the
// code's correction term (0 unless HasCorr). Values outside their range
// are clamped to it and counted for Drift.
func (q *Quantizer) Encode(code []int8, v []float32) float32 {
	corr, clamped := q.encode(code, v)
	q.encoded.Add(int64(len(v)))
	if clamped > 0 {
		q.clamped.Add(int64(clamped))
	}
	return corr
}

// Reencode is Encode for a vector that was already counted (re-encoding
// existing vectors with a new quantizer): it does not touch the drift
// counters.
func (q *Quantizer) Reencode(code []int8, v []float32) float32 {
	corr, _ := q.encode(code, v)
	return corr
}

func (q *Quantizer) encode(code []int8, v []float32) (corr float32, clamped int) {
	code = code[:len(v)]
	lo, inv, step := q.lo[:len(v)], q.inv[:len(v)], q.step[:len(v)]
	for i, x := range v {
		u := (x - lo[i]) * inv[i]
		switch {
		case u < 0 || (inv[i] == 0 && x != lo[i]):
			clamped++
			u = 0
		case u > 255:
			clamped++
			u = 255
		}
		c := int8(int32(u+0.5) - 128)
		code[i] = c
		if q.corr {
			d := step[i] * float32(c)
			corr += d * d
		}
	}
	return corr, clamped
}

// Decode writes the vector code stands for into v.
func (q *Quantizer) Decode(v []float32, code []int8) {
	v = v[:len(code)]
	for i, c := range code {
		v[i] = q.mid[i] + q.step[i]*float32(c)
	}
}

// Prepare fills dst for distances from the vector v (already normalised
// for cosine) to codes of this quantizer; dst.Code is reused when it is
// long enough. The distances it gives are "smaller is closer" like the
// metric's own, and approximate it:
//
//   - collection ranges, L2: v is encoded like a stored vector and the
//     distance is step² * L2Int8 (exact integer arithmetic on the grid);
//   - collection ranges, cosine: the same, halved (for unit vectors
//     |a-b|²/2 = 1 - <a,b>);
//   - inner product, and dimension ranges with cosine: <v, x> = sum v[i]
//     mid[i] + sum v[i] step[i] c[i]; the weights w = v*step are rounded
//     to int8 with the query's own scale b, so the distance is
//     1 - sum v*mid - b * DotInt8(w/b, c);
//   - dimension ranges, L2: |v - x|² = |v - mid|² - 2 sum w c + sum
//     (step c)² with w = step*(v - mid); the last sum is the code's
//     correction term, stored with it.
func (q *Quantizer) Prepare(dst *distance.Int8Query, v []float32) {
	if cap(dst.Code) < len(v) {
		dst.Code = make([]int8, len(v))
	}
	dst.Code = dst.Code[:len(v)]
	dst.CorrWeight = 0
	if q.p.Ranges == RangesCollection && q.p.Metric != distance.InnerProduct {
		q.encode(dst.Code, v)
		s := float64(q.step[0])
		dst.Kernel, dst.Bias, dst.Scale = distance.L2Int8Func(), 0, float32(s*s)
		if q.p.Metric == distance.Cosine {
			dst.Scale /= 2
		}
		return
	}
	// Asymmetric forms: w[i] is the weight of code c[i]; the bias collects
	// everything that does not depend on the code.
	var bias float64
	maxW := float32(0)
	l2 := q.p.Metric == distance.L2
	for i, x := range v {
		var wi float32
		if l2 {
			d := x - q.mid[i]
			bias += float64(d) * float64(d)
			wi = q.step[i] * d
		} else {
			bias += float64(x) * float64(q.mid[i])
			wi = q.step[i] * x
		}
		if a := float32(math.Abs(float64(wi))); a > maxW {
			maxW = a
		}
	}
	b := maxW / 127
	inv := float32(0)
	if b > 0 {
		inv = 1 / b
	}
	for i, x := range v {
		var wi float32
		if l2 {
			wi = q.step[i] * (x - q.mid[i])
		} else {
			wi = q.step[i] * x
		}
		dst.Code[i] = int8(math.Round(float64(wi * inv)))
	}
	dst.Kernel = distance.DotInt8Func()
	if l2 {
		dst.Scale, dst.Bias, dst.CorrWeight = -2*b, float32(bias), 1
	} else {
		dst.Scale, dst.Bias = -b, float32(1-bias)
	}
}

// PrepareCode is Prepare for the vector a code of this quantizer stands
// for, when that needs no decoding: with the symmetric forms (collection
// ranges, L2 or cosine) the query's code is the code itself. It reports
// false, leaving dst alone, for the asymmetric forms, which need the
// decoded vector (Decode, then Prepare). Prepare(dst, Decode(code)) gives
// the same distances: a decoded value lies on the grid and encodes back
// to its own level.
func (q *Quantizer) PrepareCode(dst *distance.Int8Query, code []int8) bool {
	if q.p.Ranges != RangesCollection || q.p.Metric == distance.InnerProduct {
		return false
	}
	dst.Code = append(dst.Code[:0], code...)
	s := float64(q.step[0])
	dst.Kernel, dst.Bias, dst.Scale, dst.CorrWeight = distance.L2Int8Func(), 0, float32(s*s), 0
	if q.p.Metric == distance.Cosine {
		dst.Scale /= 2
	}
	return true
}

// Drift is how the vectors encoded since training fit the ranges.
type Drift struct {
	// Encoded and Clamped count vector components.
	Encoded, Clamped int64
	// Fraction is Clamped / Encoded (0 when nothing was encoded).
	Fraction float64
}

// Drift returns the counters since training.
func (q *Quantizer) Drift() Drift {
	d := Drift{Encoded: q.encoded.Load(), Clamped: q.clamped.Load()}
	if d.Encoded > 0 {
		d.Fraction = float64(d.Clamped) / float64(d.Encoded)
	}
	return d
}

// Retraining rules (Drifted):
//   - at least driftMinVectors vectors encoded since training, and
//   - their clamped fraction above driftFactor times the training sample's
//     own (the clipped tails) and above driftFloor.
const (
	driftMinVectors = 1000
	driftFactor     = 4
	driftFloor      = 0.005
)

// Drifted reports whether the data encoded since training fits the ranges
// so much worse than the training sample did that the caller should
// retrain (engine: at the next checkpoint).
func (q *Quantizer) Drifted() bool {
	d := q.Drift()
	if d.Encoded < int64(driftMinVectors*q.p.Dim) {
		return false
	}
	return d.Fraction > max(driftFactor*float64(q.p.BaselineClamp), driftFloor)
}

// Clamps returns how many of v's values encoding it would clamp.
func (q *Quantizer) Clamps(v []float32) int {
	lo, inv := q.lo[:len(v)], q.inv[:len(v)]
	n := 0
	for i, x := range v {
		u := (x - lo[i]) * inv[i]
		if u < 0 || u > 255 || (inv[i] == 0 && x != lo[i]) {
			n++
		}
	}
	return n
}
