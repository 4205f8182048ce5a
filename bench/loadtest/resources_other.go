//go:build !unix

package loadtest

import "time"

// selfUsage is unavailable without getrusage; the report leaves the
// client's figures out.
func selfUsage() (cpu time.Duration, peakRSS uint64, ok bool) { return 0, 0, false }
