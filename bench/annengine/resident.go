package annengine

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/akidb/akidb/bench/ann"
)

// ResidentBytes is the process's resident memory (VmRSS of
// /proc/self/status, and its RssAnon, RssFile and RssShmem parts) after a
// garbage collection that returns freed pages to the system, so that the
// difference of two readings is what was built in between, not garbage.
// Pages of files read with pread sit in the page cache, not in the
// process, and do not count; pages of files mapped into the process (a
// collection's file-backed lists and codes) count in RssFile, not
// RssAnon. Zero where /proc is absent.
func ResidentBytes() ann.Resident {
	runtime.GC()
	debug.FreeOSMemory()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return ann.Resident{}
	}
	defer f.Close()
	return parseStatus(bufio.NewScanner(f))
}

// parseStatus reads the resident memory lines of a /proc/<pid>/status.
func parseStatus(sc *bufio.Scanner) ann.Resident {
	var r ann.Resident
	fields := map[string]*int64{"VmRSS:": &r.Total, "RssAnon:": &r.Anon, "RssFile:": &r.File, "RssShmem:": &r.Shmem}
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		dst := fields[name+":"]
		if dst == nil {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err == nil {
			*dst = kb << 10
		}
	}
	return r
}
