// Package distance owns AkiDB's float32 distance kernels: squared L2 and
// inner product, with cosine expressed as inner product over vectors that the
// caller has normalised (Normalize).
//
// # Implementations
//
// A kernel set (dispatch.go) holds three functions: squared L2, dot, and the
// inner-product distance 1 - dot. Three sets exist:
//
//   - generic (generic.go): pure Go, always built; the only one under the
//     `noasm` build tag and on architectures other than amd64 and arm64.
//     It is also the reference the assembly is tested against.
//   - avx2+fma (kernels_amd64.go, l2_amd64.s, dot_amd64.s, avx2_amd64.h):
//     used when golang.org/x/sys/cpu reports AVX2 and FMA (which includes
//     the OS saving YMM state). Four YMM accumulators take 32 elements per
//     main-loop iteration, then one 16- and one 8-element step, then the
//     last 1..7 elements with a VMASKMOVPS masked load, then a horizontal
//     sum. Masked-off lanes read as zero and never fault, so no kernel
//     reads past len(a) elements of either slice. (An eight-accumulator,
//     64-element loop measured no faster on the development machine, an
//     AMD Zen 5: the loop is bound by loads, not by FMA latency.)
//   - neon (kernels_arm64.go, l2_arm64.s, dot_arm64.s, neon_arm64.h):
//     used when cpu.ARM64.HasASIMD (mandatory in ARMv8-A). Four 4-lane
//     accumulators take 16 elements per iteration with FMLA, then one 8-
//     and one 4-element step, a horizontal sum, and the last 0..3 elements
//     one at a time. Go's arm64 assembler lacks vector FADD, FSUB and FADDP,
//     so those are WORD encodings, each commented with its instruction.
//
// The set is chosen once, while the package initialises, and never
// changes; Implementation names it. The exported L2Squared, Dot and
// InnerProductDistance call the chosen kernels. Metric.Func returns the
// chosen kernel itself, so the HNSW hot path makes one indirect call per
// distance; the inner-product distance is computed inside the kernel
// (1 - dot in assembly) rather than by a Go wrapper around Dot. (A Go
// function value that refers to an assembly function goes through the
// compiler's ABIInternal-to-ABI0 adapter, which copies the register
// arguments to the stack; that cost, about a nanosecond, cannot be avoided
// outside the Go runtime.)
//
// # Contract and precision
//
// Every kernel reads len(a) elements of a and of b; b must have at least
// len(a) elements (extra elements are ignored). Any length, including 0,
// is valid, and slices need no particular alignment. Results are float32
// sums: the assembly sets add in a different order from the generic one
// and fuse multiply-adds, so they agree with it, and with an exact
// float64 sum, to within float32 rounding (tests allow 1e-4 of the sum of
// |terms|), not bit for bit. NaN and infinities propagate as IEEE 754 says;
// a sum beyond the float32 range is +Inf.
//
// Every distance returned by Metric.Func is "smaller is closer", which is
// what the HNSW graph orders by: squared L2 for L2, and 1 - <a,b> for inner
// product and cosine (as hnswlib does).
package distance
