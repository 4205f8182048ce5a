//go:build unix

package loadtest

import (
	"runtime"
	"syscall"
	"time"
)

// selfUsage is this process's CPU time (user + system) and peak resident
// set size so far, from getrusage(RUSAGE_SELF).
func selfUsage() (cpu time.Duration, peakRSS uint64, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	peakRSS = uint64(ru.Maxrss) // kilobytes on Linux and the BSDs
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return cpu, peakRSS, true // bytes on Darwin
	}
	return cpu, peakRSS * 1024, true
}
