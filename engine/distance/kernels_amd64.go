//go:build !noasm

package distance

import "golang.org/x/sys/cpu"

// The AVX2+FMA kernels (l2_amd64.s, dot_amd64.s). Each reads len(a)
// elements of a and of b; b must have at least len(a) elements. Any length,
// including 0, is handled; the last 1..7 elements are read with masked
// loads, which never touch memory past the end of the slices.

//go:noescape
func l2AVX2(a, b []float32) float32

//go:noescape
func dotAVX2(a, b []float32) float32

// ipDistAVX2 returns 1 - dot(a, b), computed inside the kernel so that the
// inner-product distance costs no extra call.
//
//go:noescape
func ipDistAVX2(a, b []float32) float32

// archKernels lists the assembly sets this CPU can run, best first.
func archKernels() []kernelSet {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return []kernelSet{{name: "avx2+fma", l2: l2AVX2, dot: dotAVX2, ipDist: ipDistAVX2}}
	}
	return nil
}
