//go:build !noasm

package distance

import "golang.org/x/sys/cpu"

// The AVX2 int8 kernels (int8_amd64.s). Each reads len(a) bytes of a and
// of b; b must have at least len(a). Sixteen codes at a time are
// sign-extended to 16 bits (VPMOVSXBW), subtracted for L2, and multiplied
// and added in pairs to 32 bits (VPMADDWD); the last 0..15 are done one at
// a time, so nothing past len(a) is read.

//go:noescape
func l2Int8AVX2(a, b []int8) int32

//go:noescape
func dotInt8AVX2(a, b []int8) int32

// The AVX-512 VNNI kernels (int8_avx512_amd64.s): VPDPBUSD multiplies and
// sums 64 codes per instruction without widening them first; the tail is
// one masked load. At 784 codes about twice the AVX2 kernels' speed for
// L2 and 2.5 times for the inner product (BenchmarkL2Int8, BenchmarkDotInt8).

//go:noescape
func l2Int8AVX512VNNI(a, b []int8) int32

//go:noescape
func dotInt8AVX512VNNI(a, b []int8) int32

// archInt8 lists the assembly int8 sets this CPU can run, best first.
func archInt8() []int8Set {
	var sets []int8Set
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VNNI && cpu.X86.HasBMI2 {
		sets = append(sets, int8Set{name: "avx512vnni", l2: l2Int8AVX512VNNI, dot: dotInt8AVX512VNNI})
	}
	if cpu.X86.HasAVX2 {
		sets = append(sets, int8Set{name: "avx2", l2: l2Int8AVX2, dot: dotInt8AVX2})
	}
	return sets
}
