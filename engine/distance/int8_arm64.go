//go:build !noasm

package distance

import "golang.org/x/sys/cpu"

// The NEON int8 kernels (int8_arm64.s), in two sets:
//
//   - neon-dotprod, when the CPU has the dot-product extension (ARMv8.2
//     FEAT_DotProd, mandatory from ARMv8.4; cpu.ARM64.HasASIMDDP): L2 is
//     SABD (|a-b|, exact as an unsigned byte) then UDOT of that with
//     itself; the inner product is SDOT. 64 codes per main-loop iteration.
//   - neon, on any ARMv8-A: the same SABD for L2, then UMULL/UMULL2 to
//     16-bit squares and UADALP to add them in pairs into 32-bit lanes;
//     the inner product is SMULL/SMULL2 and SADALP. 32 codes per
//     iteration.
//
// Both do 16 at a time after the main loop and the last 0..15 one at a
// time, so nothing past len(a) is read.

//go:noescape
func l2Int8DotProd(a, b []int8) int32

//go:noescape
func dotInt8DotProd(a, b []int8) int32

//go:noescape
func l2Int8NEON(a, b []int8) int32

//go:noescape
func dotInt8NEON(a, b []int8) int32

// archInt8 lists the assembly int8 sets this CPU can run, best first.
func archInt8() []int8Set {
	var sets []int8Set
	if cpu.ARM64.HasASIMD && cpu.ARM64.HasASIMDDP {
		sets = append(sets, int8Set{name: "neon-dotprod", l2: l2Int8DotProd, dot: dotInt8DotProd})
	}
	if cpu.ARM64.HasASIMD {
		sets = append(sets, int8Set{name: "neon", l2: l2Int8NEON, dot: dotInt8NEON})
	}
	return sets
}
