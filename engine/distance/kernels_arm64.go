//go:build !noasm

package distance

import "golang.org/x/sys/cpu"

// The NEON (ASIMD) kernels (l2_arm64.s, dot_arm64.s). Each reads len(a)
// elements of a and of b; b must have at least len(a) elements. Any length,
// including 0, is handled; the last 1..3 elements are done one at a time.

//go:noescape
func l2NEON(a, b []float32) float32

//go:noescape
func dotNEON(a, b []float32) float32

// ipDistNEON returns 1 - dot(a, b), computed inside the kernel so that the
// inner-product distance costs no extra call.
//
//go:noescape
func ipDistNEON(a, b []float32) float32

// archKernels lists the assembly sets this CPU can run, best first. ASIMD
// is mandatory in ARMv8-A, but the check costs nothing and keeps a broken
// feature report from crashing the process with SIGILL.
func archKernels() []kernelSet {
	if cpu.ARM64.HasASIMD {
		return []kernelSet{{name: "neon", l2: l2NEON, dot: dotNEON, ipDist: ipDistNEON}}
	}
	return nil
}
