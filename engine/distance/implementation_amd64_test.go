//go:build !noasm

package distance

import "golang.org/x/sys/cpu"

// wantImplementation is the kernel set init must choose on this CPU.
func wantImplementation() string {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return "avx2+fma"
	}
	return "generic"
}
