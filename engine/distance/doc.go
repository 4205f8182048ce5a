// Package distance owns AkiDB's distance kernels: float32 squared L2 and
// inner product, with cosine expressed as inner product over vectors that the
// caller has normalised (Normalize), and the int8 kernels that quantized
// collections traverse their graph with (engine/quant gives the codes their
// meaning).
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
//
// # Int8 kernels
//
// L2Int8 (sum of (a[i]-b[i])²) and DotInt8 (sum of a[i]*b[i]) take int8
// codes and return exact int32 sums: no rounding, so every implementation
// must match the generic one (int8.go) bit for bit, which the tests check
// at every length 0..1100, at the extreme codes up to MaxInt8Len, at every
// alignment and against an unmapped page. Sets (int8Set, chosen at init
// like the float ones; Int8Implementation names it):
//
//   - generic (int8.go): pure Go, the reference.
//   - avx2 (int8_amd64.s): 16 codes are sign-extended to 16 bits
//     (VPMOVSXBW), subtracted (L2) and multiplied-and-added in pairs to
//     32 bits (VPMADDWD); four accumulators, 64 codes per iteration.
//   - avx512vnni (int8_avx512_amd64.s, with AVX-512 F/BW/VNNI and BMI2;
//     preferred over avx2): VPDPBUSD multiplies unsigned by signed bytes
//     and sums each four products into an int32 lane, 64 codes per
//     instruction, with no widening. L2 takes d = |a-b| as an unsigned
//     byte (VPMAXSB - VPMINSB) and d² = d*(d-128) + 128*d, d-128 being
//     d^0x80 read as a signed byte; the inner product is
//     (a^0x80)*b - 128*b. The last 0..63 codes are one masked load.
//     About 2x avx2's L2 and 2.5x its inner product at 784 codes.
//   - neon-dotprod (int8_arm64.s, with FEAT_DotProd): L2 takes SABD, whose
//     |a-b| <= 255 is exact as an unsigned byte, and UDOTs it with itself;
//     the inner product is SDOT. 64 codes per iteration.
//   - neon (int8_arm64.s, any ARMv8-A): the same SABD, then UMULL/UMULL2
//     and UADALP for L2, SMULL/SMULL2 and SADALP for the inner product.
//
// None reads past len(a): avx2 and the NEON sets read 16 codes at a time
// and do the last 0..15 one at a time, avx512vnni masks its last load.
package distance
