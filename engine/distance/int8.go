package distance

// Int8Func is an integer kernel over int8 codes (engine/quant): it reads
// len(a) elements of a and of b (len(b) >= len(a)) and returns an exact
// int32 sum. For every length up to MaxInt8Len the sum cannot overflow.
type Int8Func func(a, b []int8) int32

// MaxInt8Len is the longest code the int8 kernels accept without risk of
// overflowing their int32 sums: 255² * 32768 < 2³¹. (hnsw.MaxDim is
// 16384.)
const MaxInt8Len = 32768

// int8Set is one complete implementation of the int8 kernels.
type int8Set struct {
	name string   // reported by Int8Implementation
	l2   Int8Func // sum of (a[i]-b[i])²
	dot  Int8Func // sum of a[i]*b[i]
}

// genericInt8 is the pure-Go reference; it is always available.
var genericInt8 = int8Set{name: "generic", l2: L2Int8Generic, dot: DotInt8Generic}

// chosenInt8Kernels returns the fastest set this CPU can run (archInt8,
// in the per-architecture files, lists the usable assembly sets, best
// first; it is empty under noasm and on other architectures).
func chosenInt8Kernels() int8Set {
	if sets := archInt8(); len(sets) > 0 {
		return sets[0]
	}
	return genericInt8
}

var (
	chosenInt8   = chosenInt8Kernels()
	l2Int8Impl   = chosenInt8.l2
	dotInt8Impl  = chosenInt8.dot
	int8ImplName = chosenInt8.name
)

// L2Int8 returns the squared Euclidean distance between two int8 codes,
// exactly, as an int32 (len(b) must be at least len(a), len(a) at most
// MaxInt8Len).
func L2Int8(a, b []int8) int32 { return l2Int8Impl(a, b) }

// DotInt8 returns the inner product of two int8 codes, exactly, as an
// int32 (same length rules as L2Int8).
func DotInt8(a, b []int8) int32 { return dotInt8Impl(a, b) }

// L2Int8Func and DotInt8Func return the chosen kernels themselves, for hot
// loops that keep the function in a local variable.
func L2Int8Func() Int8Func  { return l2Int8Impl }
func DotInt8Func() Int8Func { return dotInt8Impl }

// Int8Implementation names the int8 kernels chosen at init: "generic",
// "avx512vnni" (VPDPBUSD), "avx2", "neon-dotprod" (SDOT/UDOT) or "neon"
// (SMULL/UMULL with pairwise accumulation).
func Int8Implementation() string { return int8ImplName }

// L2Int8Generic is the pure-Go reference for L2Int8.
func L2Int8Generic(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0 := int32(a[i]) - int32(b[i])
		d1 := int32(a[i+1]) - int32(b[i+1])
		d2 := int32(a[i+2]) - int32(b[i+2])
		d3 := int32(a[i+3]) - int32(b[i+3])
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := int32(a[i]) - int32(b[i])
		s0 += d * d
	}
	return s0 + s1 + s2 + s3
}

// DotInt8Generic is the pure-Go reference for DotInt8.
func DotInt8Generic(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}

// Int8Query is a query prepared for distances to int8 codes (engine/quant
// prepares it; the graph measures with it). The distance to a code c whose
// stored correction term is corr is
//
//	Scale*K(Code, c) + Bias + CorrWeight*corr
//
// where K is L2Int8 or DotInt8 (Kernel). The affine form covers every
// quantizer AkiDB has: symmetric L2 on codes (Scale = step², no bias) and
// the asymmetric inner-product forms with per-query constants.
type Int8Query struct {
	Code       []int8
	Kernel     Int8Func
	Scale      float32
	Bias       float32
	CorrWeight float32
}

// Dist is the distance from q to code c with correction corr.
func (q *Int8Query) Dist(c []int8, corr float32) float32 {
	return q.Scale*float32(q.Kernel(q.Code, c)) + q.Bias + q.CorrWeight*corr
}
