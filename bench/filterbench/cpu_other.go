//go:build !linux

package filterbench

import "time"

// threadCPU is not measured here: CPU figures are 0.
func threadCPU() time.Duration { return 0 }
