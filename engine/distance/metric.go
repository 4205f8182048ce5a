package distance

import (
	"fmt"
	"math"
)

// Metric names how a collection compares vectors.
type Metric uint8

const (
	// L2 is squared Euclidean distance.
	L2 Metric = iota + 1
	// InnerProduct ranks by the dot product, larger is closer.
	InnerProduct
	// Cosine ranks by cosine similarity; vectors are normalised on the way in
	// and compared with the inner product.
	Cosine
)

// Func is a distance where smaller means closer.
type Func func(a, b []float32) float32

// ParseMetric accepts the names used in the API and on the command line.
func ParseMetric(s string) (Metric, error) {
	switch s {
	case "l2", "L2", "euclidean":
		return L2, nil
	case "dot", "ip", "inner_product":
		return InnerProduct, nil
	case "cosine", "cos":
		return Cosine, nil
	}
	return 0, fmt.Errorf("unknown metric %q (want cosine, l2 or dot)", s)
}

// String returns the canonical API name of the metric.
func (m Metric) String() string {
	switch m {
	case L2:
		return "l2"
	case InnerProduct:
		return "dot"
	case Cosine:
		return "cosine"
	}
	return fmt.Sprintf("metric(%d)", uint8(m))
}

// Valid reports whether m is one of the known metrics.
func (m Metric) Valid() bool { return m >= L2 && m <= Cosine }

// Func returns the "smaller is closer" distance for the metric.
func (m Metric) Func() Func {
	// Return the chosen kernel itself, not the exported wrapper, to save an
	// indirect call per distance on the search path.
	if m == L2 {
		return l2Impl
	}
	return ipDistImpl
}

// Score converts a distance from Func into the score the API reports:
// the squared L2 distance for L2 (smaller is better), the dot product for
// InnerProduct and the cosine similarity for Cosine (larger is better).
func (m Metric) Score(dist float32) float32 {
	if m == L2 {
		return dist
	}
	return 1 - dist
}

// InnerProductDistance is 1 - <a,b>, so that larger products rank first.
func InnerProductDistance(a, b []float32) float32 { return ipDistImpl(a, b) }

// Normalize scales v in place to unit length. It returns false, leaving v
// unchanged, when v is empty, all zero, or holds a NaN or an infinity.
//
// The squared norm is taken with the fast float32 kernel when it lands
// well inside the float32 range; when it underflows towards the
// subnormals or overflows (elements below about 1e-15 or above about 1e19)
// it is recomputed in float64, where the square of any finite float32 is
// exact enough, so every finite non-zero vector can be normalised.
func Normalize(v []float32) bool {
	n := Dot(v, v)
	if n >= 1e-30 && n <= math.MaxFloat32 {
		inv := float32(1 / math.Sqrt(float64(n)))
		for i := range v {
			v[i] *= inv
		}
		return true
	}
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 || math.IsInf(sum, 0) || math.IsNaN(sum) {
		return false
	}
	inv := 1 / math.Sqrt(sum)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
	return true
}
