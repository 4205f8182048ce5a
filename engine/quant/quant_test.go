package quant

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

func gaussian(r *rand.Rand, n, dim int, scale float64) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(scale * r.NormFloat64())
		}
		out[i] = v
	}
	return out
}

func normalized(vs [][]float32) [][]float32 {
	for _, v := range vs {
		distance.Normalize(v)
	}
	return vs
}

// TestEncodeDecodeWithinHalfStep: a value inside its range comes back
// within half a step, and the code is the nearest level.
func TestEncodeDecodeWithinHalfStep(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	sample := gaussian(r, 2000, 37, 3)
	for _, rg := range []Ranges{RangesCollection, RangesDimension} {
		q, err := Train(sample, distance.L2, rg, 2000)
		if err != nil {
			t.Fatal(err)
		}
		p := q.Params()
		code, back := make([]int8, 37), make([]float32, 37)
		for _, v := range sample {
			q.Encode(code, v)
			q.Decode(back, code)
			for i, x := range v {
				lo, hi := p.Lo[0], p.Hi[0]
				if rg == RangesDimension {
					lo, hi = p.Lo[i], p.Hi[i]
				}
				step := (hi - lo) / 255
				if x < lo || x > hi {
					continue // clamped: the quantiles leave a few out
				}
				if d := math.Abs(float64(back[i] - x)); d > float64(step)/2*1.0001+1e-6 {
					t.Fatalf("%v: value %v decoded as %v, step %v", rg, x, back[i], step)
				}
			}
		}
	}
}

// TestIntegerGridIsExact: values on the integer grid 0..255 (MNIST's
// pixels) with a collection range [0, 255] encode without error, so
// symmetric L2 on codes equals the exact float distance.
func TestIntegerGridIsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	sample := make([][]float32, 1000)
	for i := range sample {
		v := make([]float32, 50)
		for j := range v {
			v[j] = float32(r.IntN(256))
		}
		sample[i] = v
	}
	sample[0][0], sample[1][0] = 0, 255
	q, err := Train(sample, distance.L2, RangesCollection, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if p := q.Params(); p.Lo[0] != 0 || p.Hi[0] != 255 {
		t.Fatalf("range [%v, %v], want [0, 255]", p.Lo[0], p.Hi[0])
	}
	var prep distance.Int8Query
	code := make([]int8, 50)
	for i := 0; i < 100; i++ {
		a, b := sample[i], sample[999-i]
		q.Encode(code, b)
		q.Prepare(&prep, a)
		if got, want := prep.Dist(code, 0), distance.L2Squared(a, b); got != want {
			t.Fatalf("pair %d: code distance %v, exact %v", i, got, want)
		}
	}
	if d := q.Drift(); d.Clamped != 0 {
		t.Fatalf("%d components clamped on the grid", d.Clamped)
	}
}

// TestPreparedDistancesApproximateExact checks every metric and layout:
// the prepared distance to a code is close to the exact distance from the
// query to the vector the code stands for (the asymmetric forms lose only
// the rounding of the query's weights).
func TestPreparedDistancesApproximateExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, metric := range []distance.Metric{distance.L2, distance.InnerProduct, distance.Cosine} {
		for _, rg := range []Ranges{RangesCollection, RangesDimension} {
			sample := gaussian(r, 1500, 64, 1)
			if metric == distance.Cosine {
				sample = normalized(sample)
			}
			q, err := Train(sample, metric, rg, len(sample))
			if err != nil {
				t.Fatal(err)
			}
			exact := metric.Func()
			var prep distance.Int8Query
			code, dec := make([]int8, 64), make([]float32, 64)
			var worst, scale float64
			for i := 0; i < 200; i++ {
				x, qv := sample[i], sample[1499-i]
				corr := q.Encode(code, x)
				q.Decode(dec, code)
				q.Prepare(&prep, qv)
				want := exact(qv, dec)
				if metric == distance.Cosine && rg == RangesCollection {
					// Symmetric: the query is on the grid too, and the
					// distance is |q̂-x̂|²/2.
					qd := make([]float32, 64)
					q.Decode(qd, prep.Code)
					want = distance.L2Squared(qd, dec) / 2
				}
				if metric == distance.L2 && rg == RangesCollection {
					qd := make([]float32, 64)
					q.Decode(qd, prep.Code)
					want = distance.L2Squared(qd, dec)
				}
				got := prep.Dist(code, corr)
				worst = max(worst, math.Abs(float64(got-want)))
				scale = max(scale, math.Abs(float64(want)))
			}
			// The asymmetric forms round the query's weights to 8 bits.
			if worst > 0.02*scale+1e-4 {
				t.Errorf("%v %v: worst error %v over distances up to %v", metric, rg, worst, scale)
			}
		}
	}
}

// TestPrepareCode: preparing straight from a code gives exactly the
// distances of preparing its decoded vector (symmetric forms), and the
// asymmetric forms decline.
func TestPrepareCode(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, metric := range []distance.Metric{distance.L2, distance.InnerProduct, distance.Cosine} {
		for _, rg := range []Ranges{RangesCollection, RangesDimension} {
			sample := gaussian(r, 1200, 33, 3)
			if metric == distance.Cosine {
				sample = normalized(sample)
			}
			q, err := Train(sample, metric, rg, len(sample))
			if err != nil {
				t.Fatal(err)
			}
			var fromCode, fromVec distance.Int8Query
			code, other, dec := make([]int8, 33), make([]int8, 33), make([]float32, 33)
			symmetric := rg == RangesCollection && metric != distance.InnerProduct
			for i := 0; i < 100; i++ {
				q.Encode(code, sample[i])
				corr := q.Encode(other, sample[1199-i])
				if got := q.PrepareCode(&fromCode, code); got != symmetric {
					t.Fatalf("%v %v: PrepareCode = %v", metric, rg, got)
				}
				if !symmetric {
					continue
				}
				q.Decode(dec, code)
				q.Prepare(&fromVec, dec)
				if a, b := fromCode.Dist(other, corr), fromVec.Dist(other, corr); a != b {
					t.Fatalf("%v %v: from the code %v, from the decoded vector %v", metric, rg, a, b)
				}
			}
		}
	}
}

// TestAutoPicksByMeasurement: with a few dimensions that dominate the norm
// the per-dimension query weights lose the rest, and Auto must pick
// collection ranges; Params records both measured recalls.
func TestAutoPicksByMeasurement(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	sample := gaussian(r, 3000, 96, 1)
	for _, v := range sample {
		for j := 0; j < 3; j++ {
			v[j] *= 40
		}
	}
	sample = normalized(sample)
	q, err := Train(sample, distance.Cosine, RangesAuto, 50000)
	if err != nil {
		t.Fatal(err)
	}
	p := q.Params()
	t.Logf("recall collection %.3f, dimension %.3f, picked %v", p.RecallCollection, p.RecallDimension, p.Ranges)
	if p.Ranges != RangesCollection || p.RecallCollection <= p.RecallDimension {
		t.Fatalf("picked %v with recalls %.3f (collection) %.3f (dimension)", p.Ranges, p.RecallCollection, p.RecallDimension)
	}
	if p.Sample != 3000 || p.Population != 50000 {
		t.Fatalf("sample %d population %d", p.Sample, p.Population)
	}
	// Dimensions with very different spreads but no dominating few: the
	// per-dimension layout keeps the narrow ones' resolution.
	wide := gaussian(r, 3000, 64, 1)
	for _, v := range wide {
		for j := 0; j < 32; j++ {
			v[j] *= 0.02
		}
	}
	q, err = Train(wide, distance.InnerProduct, RangesAuto, 3000)
	if err != nil {
		t.Fatal(err)
	}
	p = q.Params()
	t.Logf("spread dims: recall collection %.3f, dimension %.3f, picked %v", p.RecallCollection, p.RecallDimension, p.Ranges)
	if want := RangesCollection; p.RecallDimension > p.RecallCollection+evalTie {
		want = RangesDimension
		if p.Ranges != want {
			t.Fatalf("picked %v, want %v", p.Ranges, want)
		}
	}
}

func TestTrainRejects(t *testing.T) {
	for name, c := range map[string]struct {
		sample [][]float32
		metric distance.Metric
		ranges Ranges
	}{
		"empty":      {nil, distance.L2, RangesAuto},
		"ragged":     {[][]float32{{1, 2}, {1}}, distance.L2, RangesAuto},
		"nan":        {[][]float32{{1, float32(math.NaN())}}, distance.L2, RangesAuto},
		"metric":     {[][]float32{{1}}, 0, RangesAuto},
		"bad ranges": {[][]float32{{1}}, distance.L2, 9},
		"huge":       {[][]float32{{1e30}, {-1e30}}, distance.L2, RangesCollection},
	} {
		if _, err := Train(c.sample, c.metric, c.ranges, 1); err == nil {
			t.Errorf("%s: Train accepted it", name)
		}
	}
}

// TestConstantDimensions: a dimension with one value everywhere has a zero
// step; it encodes and decodes to that value, and a different value there
// counts as clamped.
func TestConstantDimensions(t *testing.T) {
	sample := make([][]float32, 100)
	for i := range sample {
		sample[i] = []float32{7, float32(i)}
	}
	q, err := Train(sample, distance.L2, RangesDimension, 100)
	if err != nil {
		t.Fatal(err)
	}
	code, back := make([]int8, 2), make([]float32, 2)
	q.Encode(code, []float32{7, 50})
	q.Decode(back, code)
	if back[0] != 7 || q.Drift().Clamped != 0 {
		t.Fatalf("constant dimension decoded as %v, %d clamped", back[0], q.Drift().Clamped)
	}
	q.Encode(code, []float32{8, 50})
	if q.Drift().Clamped != 1 {
		t.Fatalf("a new value in a constant dimension was not counted as clamped")
	}
}

// TestDrift: vectors from the training distribution do not trip Drifted;
// enough vectors shifted outside the ranges do, and Reencode never counts.
func TestDrift(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	sample := gaussian(r, 2000, 16, 1)
	q, err := Train(sample, distance.L2, RangesCollection, 2000)
	if err != nil {
		t.Fatal(err)
	}
	code := make([]int8, 16)
	for _, v := range gaussian(r, 3000, 16, 1) {
		q.Encode(code, v)
	}
	if q.Drifted() {
		t.Fatalf("same distribution reported as drifted: %+v (baseline %v)", q.Drift(), q.Params().BaselineClamp)
	}
	for _, v := range gaussian(r, 3000, 16, 1) {
		q.Reencode(code, v) // never counted
	}
	if d := q.Drift(); d.Encoded != 3000*16 {
		t.Fatalf("Reencode counted: %+v", d)
	}
	for _, v := range gaussian(r, 3000, 16, 3) {
		q.Encode(code, v)
	}
	if !q.Drifted() {
		t.Fatalf("three times the spread not reported as drifted: %+v", q.Drift())
	}
}

func TestParamsRoundTripAndValidate(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	q, err := Train(gaussian(r, 1200, 9, 2), distance.Cosine, RangesAuto, 5000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.Params().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var p Params
	if err := p.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := p.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Fatal("re-marshalled params differ")
	}
	good := q.Params()
	bad := []func(p *Params){
		func(p *Params) { p.Metric = 0 },
		func(p *Params) { p.Dim = 0 },
		func(p *Params) { p.Ranges = RangesAuto },
		func(p *Params) { p.Lo = append(p.Lo, 0) },
		func(p *Params) { p.Lo = append([]float32(nil), p.Lo...); p.Lo[0] = p.Hi[0] + 1 },
		func(p *Params) { p.Hi = append([]float32(nil), p.Hi...); p.Hi[0] = float32(math.Inf(1)) },
		func(p *Params) { p.BaselineClamp = 2 },
		func(p *Params) { p.Sample = -1 },
		func(p *Params) { p.Lo = []float32{-2 * MaxAbs}; p.Hi = []float32{0}; p.Ranges = RangesCollection },
	}
	for i, mutate := range bad {
		p := good
		mutate(&p)
		if _, err := p.MarshalBinary(); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: MarshalBinary accepted %+v", i, p)
		}
		if _, err := New(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: New accepted it", i)
		}
	}
	for _, cut := range []int{0, 5, 11, len(b) - 1} {
		if err := new(Params).UnmarshalBinary(b[:cut]); !errors.Is(err, ErrInvalid) {
			t.Errorf("truncated to %d bytes: %v", cut, err)
		}
	}
}

// FuzzParams: UnmarshalBinary never panics, and what it accepts
// re-marshals to the same bytes and builds a quantizer.
func FuzzParams(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, rg := range []Ranges{RangesCollection, RangesDimension} {
		q, err := Train(gaussian(r, 1000, 5, 1), distance.L2, rg, 1000)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := q.Params().MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Params
		if err := p.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not wrapping ErrInvalid: %v", err)
			}
			return
		}
		again, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted params do not round-trip: %v", err)
		}
		q, err := New(p)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float32, p.Dim)
		code := make([]int8, p.Dim)
		q.Encode(code, v)
		var prep distance.Int8Query
		q.Prepare(&prep, v)
		if d := prep.Dist(code, 0); math.IsNaN(float64(d)) {
			t.Fatalf("NaN distance")
		}
	})
}
