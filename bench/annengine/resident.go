package annengine

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// ResidentBytes is the process's resident memory (VmRSS of
// /proc/self/status) after a garbage collection that returns freed pages
// to the system, so that the difference of two readings is what was built
// in between, not garbage. Pages of files read with pread sit in the page
// cache, not in the process, and do not count. 0 where /proc is absent.
func ResidentBytes() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
