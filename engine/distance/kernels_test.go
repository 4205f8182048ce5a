package distance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// allKernels is every implementation this binary can run on this CPU: the
// generic reference plus the assembly sets archKernels reports.
func allKernels() []kernelSet {
	return append([]kernelSet{genericKernels}, archKernels()...)
}

// maxTestLen is the longest vector the exhaustive length sweeps use.
const maxTestLen = 1100

// ref is a float64 reference result and the sum of the absolute values of
// its terms, which scales the error float32 summation may make.
type ref struct{ want, sumAbs float64 }

func refL2(a, b []float32) ref {
	var r ref
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		r.want += d * d
		r.sumAbs += d * d
	}
	return r
}

func refDot(a, b []float32) ref {
	var r ref
	for i := range a {
		p := float64(a[i]) * float64(b[i])
		r.want += p
		r.sumAbs += math.Abs(p)
	}
	return r
}

// tolerance is what a float32 kernel may miss the exact sum by: a relative
// 1e-4 of the sum of |terms| (float32 summation of up to ~1e3 terms in
// any order, with or without FMA), plus an absolute slack for products
// that underflow below the float32 subnormals.
func (r ref) tolerance(n int) float64 {
	return 1e-4*r.sumAbs + float64(n)*1e-45 + 1e-37
}

// poisoned copies vals into the middle of a larger array whose other
// elements are NaN, starting off elements in, so a kernel that reads or
// uses anything outside the slice returns NaN.
func poisoned(vals []float32, off int) []float32 {
	buf := make([]float32, off+len(vals)+40)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	copy(buf[off:], vals)
	return buf[off : off+len(vals) : off+len(vals)]
}

// checkKernels runs every kernel on (a, b) and compares it with the float64
// reference. b may be longer than a; only len(a) elements count.
func checkKernels(t *testing.T, what string, a, b []float32) {
	t.Helper()
	n := len(a)
	rl2, rdot := refL2(a, b[:n]), refDot(a, b[:n])
	for _, k := range allKernels() {
		l2 := k.l2(a, b)
		if math.IsNaN(float64(l2)) || l2 < 0 || math.Abs(float64(l2)-rl2.want) > rl2.tolerance(n) {
			t.Fatalf("%s %s L2 n=%d: got %g, want %g (tolerance %g)", k.name, what, n, l2, rl2.want, rl2.tolerance(n))
		}
		dot := k.dot(a, b)
		if math.IsNaN(float64(dot)) || math.Abs(float64(dot)-rdot.want) > rdot.tolerance(n) {
			t.Fatalf("%s %s Dot n=%d: got %g, want %g (tolerance %g)", k.name, what, n, dot, rdot.want, rdot.tolerance(n))
		}
		// The distance kernel runs the same summation as dot, so it must
		// match 1 - dot bit for bit.
		if ip, want := k.ipDist(a, b), 1-dot; math.Float32bits(ip) != math.Float32bits(want) {
			t.Fatalf("%s %s ipDist n=%d: got %g, want 1 - %g = %g", k.name, what, n, ip, dot, want)
		}
	}
}

// generator fills a vector of length n; patterns pair two of them.
type generator func(r *rand.Rand, n int) []float32

func fill(n int, f func(i int) float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

func normal(r *rand.Rand, n int) []float32 {
	return fill(n, func(int) float32 { return float32(r.NormFloat64()) })
}

// scaled returns uniform values in ±scale, both signs.
func scaled(scale float64) generator {
	return func(r *rand.Rand, n int) []float32 {
		return fill(n, func(int) float32 { return float32((2*r.Float64() - 1) * scale) })
	}
}

// mixed draws each element from wildly different magnitudes: large (1e17,
// whose squares stay finite in float32 even summed 1100 times), ordinary,
// tiny (1e-30, whose products underflow), subnormal, and signed zeros.
func mixed(r *rand.Rand, n int) []float32 {
	return fill(n, func(int) float32 {
		s := 2*r.Float64() - 1
		switch r.IntN(6) {
		case 0:
			return float32(s * 1e17)
		case 1:
			return float32(s * 1e-30)
		case 2:
			return float32(s * 1e-40)
		case 3:
			return float32(math.Copysign(0, s))
		}
		return float32(s)
	})
}

func constant(c float32) generator {
	return func(_ *rand.Rand, n int) []float32 { return fill(n, func(int) float32 { return c }) }
}

type pattern struct {
	name string
	gen  func(r *rand.Rand, n int) (a, b []float32)
}

func pair(ga, gb generator) func(r *rand.Rand, n int) ([]float32, []float32) {
	return func(r *rand.Rand, n int) ([]float32, []float32) { return ga(r, n), gb(r, n) }
}

var patterns = []pattern{
	{"normal", pair(normal, normal)},
	{"huge", pair(scaled(1e17), scaled(1e17))},
	{"tiny", pair(scaled(1e-30), scaled(1e-30))},
	{"subnormal-products", pair(scaled(1e-20), scaled(1e-20))},
	{"huge-times-tiny", pair(scaled(1e17), scaled(1e-30))},
	{"mixed", pair(mixed, mixed)},
	{"zeros", pair(constant(0), constant(0))},
	{"zero-vs-normal", pair(constant(0), normal)},
	{"all-equal", pair(constant(0.1), constant(0.1))},
	{"two-constants", pair(constant(-3.75), constant(1e3))},
	// a ≈ b: L2 sums tiny differences of large, nearly equal numbers.
	{"near-equal", func(r *rand.Rand, n int) ([]float32, []float32) {
		a := scaled(1e6)(r, n)
		b := fill(n, func(i int) float32 { return a[i] * float32(1+1e-6*r.NormFloat64()) })
		return a, b
	}},
	// Products cancel in pairs, so the exact dot product is 0 while the
	// terms are large.
	{"cancelling", func(r *rand.Rand, n int) ([]float32, []float32) {
		a := scaled(1e8)(r, n)
		for i := 1; i < n; i += 2 {
			a[i] = a[i-1]
		}
		b := fill(n, func(i int) float32 { return float32(1 - 2*(i%2)) })
		return a, b
	}},
	// One large term among small ones, placed at the end where the tails
	// of the kernels handle it.
	{"large-last", func(r *rand.Rand, n int) ([]float32, []float32) {
		a, b := normal(r, n), normal(r, n)
		if n > 0 {
			a[n-1], b[n-1] = 1e15, -1e15
		}
		return a, b
	}},
}

// TestKernelsAgainstReference sweeps every length 0..1100 for every
// pattern and every kernel.
func TestKernelsAgainstReference(t *testing.T) {
	for pi, p := range patterns {
		t.Run(p.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(pi), 0x5eed))
			for n := 0; n <= maxTestLen; n++ {
				a, b := p.gen(r, n)
				checkKernels(t, p.name, poisoned(a, 0), poisoned(b, 0))
			}
		})
	}
}

// TestKernelsExactOnSmallIntegers uses small integers, whose sums are
// exact in float32 in any order, so every kernel must match the reference
// exactly: a dropped, doubled or misplaced element cannot hide inside a
// tolerance.
func TestKernelsExactOnSmallIntegers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	ints := func(n int) []float32 {
		return fill(n, func(int) float32 { return float32(r.IntN(17) - 8) })
	}
	for n := 0; n <= maxTestLen; n++ {
		a, b := poisoned(ints(n), 0), poisoned(ints(n), 0)
		wantL2, wantDot := float32(refL2(a, b).want), float32(refDot(a, b).want)
		for _, k := range allKernels() {
			if got := k.l2(a, b); got != wantL2 {
				t.Fatalf("%s L2 n=%d: got %v, want %v", k.name, n, got, wantL2)
			}
			if got := k.dot(a, b); got != wantDot {
				t.Fatalf("%s Dot n=%d: got %v, want %v", k.name, n, got, wantDot)
			}
			if got := k.ipDist(a, b); got != 1-wantDot {
				t.Fatalf("%s ipDist n=%d: got %v, want %v", k.name, n, got, 1-wantDot)
			}
		}
	}
}

// TestKernelsUnaligned starts a and b at every offset 0..7 elements into
// their arrays, so loads cross 32-byte and cache-line boundaries at every
// phase.
func TestKernelsUnaligned(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	lengths := []int{1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 47, 48, 49, 63, 64, 65, 67, 100, 127, 128, 129, 383, 777, 1100}
	for offA := 0; offA < 8; offA++ {
		for offB := 0; offB < 8; offB++ {
			for _, n := range lengths {
				a, b := normal(r, n), normal(r, n)
				checkKernels(t, fmt.Sprintf("offsets %d,%d", offA, offB), poisoned(a, offA), poisoned(b, offB))
			}
		}
	}
}

// TestKernelsLongerB checks that only len(a) elements of b count: the
// extra elements of b are NaN.
func TestKernelsLongerB(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for n := 0; n <= 130; n++ {
		for extra := 1; extra <= 9; extra += 4 {
			b := normal(r, n+extra)
			for i := n; i < len(b); i++ {
				b[i] = float32(math.NaN())
			}
			checkKernels(t, fmt.Sprintf("len(b)=len(a)+%d", extra), poisoned(normal(r, n), 1), poisoned(b, 0))
		}
	}
}

// TestKernelsSpecialValues checks that NaN and infinities propagate from
// every position a kernel handles differently (main loop, 16/8/4-wide
// steps, masked or scalar tail), and that float32 overflow gives +Inf.
func TestKernelsSpecialValues(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	lengths := []int{1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 1100}
	positions := func(n int) []int {
		if n <= 65 {
			ps := make([]int, n)
			for i := range ps {
				ps[i] = i
			}
			return ps
		}
		return []int{0, 1, n / 2, n - 9, n - 4, n - 1}
	}
	for _, k := range allKernels() {
		for _, n := range lengths {
			for _, p := range positions(n) {
				a, b := fill(n, func(int) float32 { return 1 }), fill(n, func(int) float32 { return 2 })

				a[p] = nan
				if got := k.l2(a, b); !math.IsNaN(float64(got)) {
					t.Fatalf("%s L2 n=%d NaN at %d: got %v, want NaN", k.name, n, p, got)
				}
				if got := k.dot(b, a); !math.IsNaN(float64(got)) {
					t.Fatalf("%s Dot n=%d NaN at %d: got %v, want NaN", k.name, n, p, got)
				}
				if got := k.ipDist(a, b); !math.IsNaN(float64(got)) {
					t.Fatalf("%s ipDist n=%d NaN at %d: got %v, want NaN", k.name, n, p, got)
				}

				a[p] = inf
				if got := k.l2(a, b); !math.IsInf(float64(got), 1) {
					t.Fatalf("%s L2 n=%d +Inf at %d: got %v, want +Inf", k.name, n, p, got)
				}
				if got := k.dot(a, b); !math.IsInf(float64(got), 1) {
					t.Fatalf("%s Dot n=%d +Inf at %d: got %v, want +Inf", k.name, n, p, got)
				}
				if got := k.ipDist(a, b); !math.IsInf(float64(got), -1) {
					t.Fatalf("%s ipDist n=%d +Inf at %d: got %v, want -Inf", k.name, n, p, got)
				}
				b[p] = 0 // Inf * 0
				if got := k.dot(a, b); !math.IsNaN(float64(got)) {
					t.Fatalf("%s Dot n=%d Inf*0 at %d: got %v, want NaN", k.name, n, p, got)
				}
			}
		}
		// Each term 1e38 is finite; four or more of them overflow in any
		// summation order.
		for _, n := range []int{4, 5, 8, 16, 33, 1100} {
			big, zero := fill(n, func(int) float32 { return 1e19 }), make([]float32, n)
			if got := k.l2(big, zero); !math.IsInf(float64(got), 1) {
				t.Fatalf("%s L2 n=%d overflow: got %v, want +Inf", k.name, n, got)
			}
			if got := k.dot(big, big); !math.IsInf(float64(got), 1) {
				t.Fatalf("%s Dot n=%d overflow: got %v, want +Inf", k.name, n, got)
			}
		}
	}
}

// TestKernelsEmpty covers nil and empty slices.
func TestKernelsEmpty(t *testing.T) {
	for _, k := range allKernels() {
		for _, a := range [][]float32{nil, {}} {
			if got := k.l2(a, nil); got != 0 {
				t.Errorf("%s L2 of empty: got %v", k.name, got)
			}
			if got := k.dot(a, []float32{1}); got != 0 {
				t.Errorf("%s Dot of empty: got %v", k.name, got)
			}
			if got := k.ipDist(a, a); got != 1 {
				t.Errorf("%s ipDist of empty: got %v, want 1", k.name, got)
			}
		}
	}
}

// TestKernelsDoNotWrite checks that the kernels leave their inputs alone.
func TestKernelsDoNotWrite(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	a, b := normal(r, 301), normal(r, 301)
	ca, cb := append([]float32(nil), a...), append([]float32(nil), b...)
	for _, k := range allKernels() {
		k.l2(a, b)
		k.dot(a, b)
		k.ipDist(a, b)
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(ca[i]) || math.Float32bits(b[i]) != math.Float32bits(cb[i]) {
			t.Fatalf("input changed at %d", i)
		}
	}
}
