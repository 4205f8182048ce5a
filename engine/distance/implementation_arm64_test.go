//go:build !noasm

package distance

import "golang.org/x/sys/cpu"

// wantImplementation is the kernel set init must choose on this CPU.
func wantImplementation() string {
	if cpu.ARM64.HasASIMD {
		return "neon"
	}
	return "generic"
}
