package distance

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseMetric(t *testing.T) {
	for in, want := range map[string]Metric{
		"l2": L2, "L2": L2, "euclidean": L2,
		"dot": InnerProduct, "ip": InnerProduct, "inner_product": InnerProduct,
		"cosine": Cosine, "cos": Cosine,
	} {
		got, err := ParseMetric(in)
		if err != nil || got != want {
			t.Errorf("ParseMetric(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "l1", "COSINE", " l2", "hamming"} {
		if m, err := ParseMetric(in); err == nil || !strings.Contains(err.Error(), "unknown metric") {
			t.Errorf("ParseMetric(%q) = %v, %v; want an unknown metric error", in, m, err)
		}
	}
}

func TestMetricStringAndValid(t *testing.T) {
	for _, m := range []Metric{L2, InnerProduct, Cosine} {
		if !m.Valid() {
			t.Errorf("%v.Valid() = false", m)
		}
		back, err := ParseMetric(m.String())
		if err != nil || back != m {
			t.Errorf("ParseMetric(%q) = %v, %v; want %v", m.String(), back, err, m)
		}
	}
	for _, m := range []Metric{0, Cosine + 1, 255} {
		if m.Valid() {
			t.Errorf("Metric(%d).Valid() = true", uint8(m))
		}
		if got := m.String(); !strings.HasPrefix(got, "metric(") {
			t.Errorf("Metric(%d).String() = %q", uint8(m), got)
		}
	}
}

// TestMetricFuncIsTheKernel checks that Func hands out the chosen kernel
// itself, with no wrapper in between, and what each returns.
func TestMetricFuncIsTheKernel(t *testing.T) {
	if funcPtr(L2.Func()) != funcPtr(l2Impl) {
		t.Error("L2.Func() is not the chosen L2 kernel")
	}
	for _, m := range []Metric{InnerProduct, Cosine} {
		if funcPtr(m.Func()) != funcPtr(ipDistImpl) {
			t.Errorf("%v.Func() is not the chosen inner-product distance kernel", m)
		}
	}
	r := rand.New(rand.NewPCG(9, 9))
	a, b := normal(r, 300), normal(r, 300)
	if got, want := L2.Func()(a, b), L2Squared(a, b); got != want {
		t.Errorf("L2 distance %v, want %v", got, want)
	}
	if got, want := InnerProduct.Func()(a, b), 1-Dot(a, b); got != want {
		t.Errorf("inner product distance %v, want %v", got, want)
	}
	// Smaller is closer: a vector is nearer to itself than to its negation.
	neg := fill(len(a), func(i int) float32 { return -a[i] })
	Normalize(a)
	Normalize(neg)
	for _, m := range []Metric{L2, InnerProduct, Cosine} {
		f := m.Func()
		if f(a, a) >= f(a, neg) {
			t.Errorf("%v: d(a,a)=%v not below d(a,-a)=%v", m, f(a, a), f(a, neg))
		}
	}
}

func TestMetricScore(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	a, b := normal(r, 384), normal(r, 384)
	if d := L2.Func()(a, b); L2.Score(d) != d {
		t.Errorf("L2 score %v, want the distance %v", L2.Score(d), d)
	}
	dot := float64(refDot(a, b).want)
	if got := float64(InnerProduct.Score(InnerProduct.Func()(a, b))); math.Abs(got-dot) > 1e-4*math.Abs(dot)+1e-4 {
		t.Errorf("inner product score %v, want %v", got, dot)
	}
	na, nb := append([]float32(nil), a...), append([]float32(nil), b...)
	Normalize(na)
	Normalize(nb)
	ra, rb := refDot(a, a).want, refDot(b, b).want
	cos := dot / math.Sqrt(ra*rb)
	if got := float64(Cosine.Score(Cosine.Func()(na, nb))); math.Abs(got-cos) > 1e-5 {
		t.Errorf("cosine score %v, want %v", got, cos)
	}
	if got := Cosine.Score(Cosine.Func()(na, na)); math.Abs(float64(got)-1) > 1e-5 {
		t.Errorf("cosine score of a vector with itself %v, want 1", got)
	}
}

func norm64(v []float32) float64 { return math.Sqrt(refDot(v, v).want) }

func TestNormalize(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	cases := map[string][]float32{
		"normal":   normal(r, 384),
		"one":      {-3},
		"huge":     scaled(1e30)(r, 100), // squares overflow float32
		"max":      {math.MaxFloat32, -math.MaxFloat32, math.MaxFloat32},
		"tiny":     scaled(1e-30)(r, 100), // squares underflow float32
		"subnorm":  {1e-45, 0, -1e-45},
		"mixed":    mixed(r, 777),
		"near-sub": scaled(1e-19)(r, 50), // squares land in the subnormals
	}
	for name, v := range cases {
		orig := append([]float32(nil), v...)
		if !Normalize(v) {
			t.Errorf("%s: Normalize returned false", name)
			continue
		}
		if n := norm64(v); math.Abs(n-1) > 1e-6 {
			t.Errorf("%s: norm after Normalize %v", name, n)
		}
		// Same direction: every element scaled by the same positive factor.
		on := norm64(orig)
		for i := range v {
			want := float64(orig[i]) / on
			if math.Abs(float64(v[i])-want) > 1e-6*math.Abs(want)+1e-38 {
				t.Errorf("%s: element %d = %v, want %v", name, i, v[i], want)
				break
			}
		}
	}
}

func TestNormalizeRejects(t *testing.T) {
	for name, v := range map[string][]float32{
		"nil":   nil,
		"zero":  make([]float32, 33),
		"nan":   {1, float32(math.NaN()), 2},
		"inf":   {1, float32(math.Inf(-1))},
		"-zero": {float32(math.Copysign(0, -1))},
	} {
		orig := append([]float32(nil), v...)
		if Normalize(v) {
			t.Errorf("%s: Normalize returned true", name)
		}
		for i := range v {
			if math.Float32bits(v[i]) != math.Float32bits(orig[i]) {
				t.Errorf("%s: element %d changed to %v", name, i, v[i])
			}
		}
	}
}
