//go:build linux

package mapped

// Not under qemu (make test-arm64): qemu-user takes madvise for a hint it
// may ignore and maps the guest's addresses elsewhere, so neither the flag
// nor the address is in smaps there.

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestSegmentsAreReadRandomly: every segment is mapped with MADV_RANDOM
// (VmFlags "rr" in /proc/self/smaps), so that a page the kernel dropped
// under memory pressure comes back alone instead of with a readahead
// window that would push out pages in use (docs/quantization.md, the
// device test: 945 against 71 ms per query at ef 16 in a 256 MiB cgroup).
func TestSegmentsAreReadRandomly(t *testing.T) {
	a := open(t, Options{SegmentBytes: 64 << 10})
	b := a.Alloc(100)
	addr := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	raw, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	inside := false
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			lo, hi, _ := strings.Cut(f[0], "-")
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			inside = err1 == nil && err2 == nil && addr >= l && addr < h
			continue
		}
		if inside && len(f) > 0 && f[0] == "VmFlags:" {
			if !slices.Contains(f[1:], "rr") {
				t.Fatalf("the segment's mapping has VmFlags %q, want rr (MADV_RANDOM)", f[1:])
			}
			return
		}
	}
	t.Fatalf("no mapping holds %#x in /proc/self/smaps", addr)
}
