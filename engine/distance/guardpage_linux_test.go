package distance

import (
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// guardedFloats returns the last n float32 slots of a read-write page that
// is followed by an inaccessible page, so any read past the end of the
// returned slice kills the test with SIGSEGV.
func guardedFloats(t *testing.T, n int) []float32 {
	t.Helper()
	page := os.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Munmap(mem); err != nil {
			t.Errorf("munmap: %v", err)
		}
	})
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	all := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), page/4)
	return all[len(all)-n:]
}

// TestKernelsStopAtPageEnd places a and b so that they end exactly at an
// unmapped page: the tails (masked loads on amd64, scalar on arm64) must
// not read a byte beyond the slices.
func TestKernelsStopAtPageEnd(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	a, b := guardedFloats(t, 200), guardedFloats(t, 200)
	for n := 0; n <= 200; n++ {
		an, bn := a[len(a)-n:], b[len(b)-n:]
		copy(an, normal(r, n))
		copy(bn, normal(r, n))
		checkKernels(t, "at page end", an, bn)
	}
}

// TestInt8KernelsStopAtPageEnd places int8 codes so that they end exactly
// at an unmapped page: the scalar tails must not read past the slices.
func TestInt8KernelsStopAtPageEnd(t *testing.T) {
	r := rand.New(rand.NewPCG(26, 26))
	fa, fb := guardedFloats(t, 100), guardedFloats(t, 100)
	a := unsafe.Slice((*int8)(unsafe.Pointer(&fa[0])), 400)
	b := unsafe.Slice((*int8)(unsafe.Pointer(&fb[0])), 400)
	for n := 0; n <= 400; n++ {
		an, bn := a[len(a)-n:], b[len(b)-n:]
		copy(an, randCodes(r, n))
		copy(bn, randCodes(r, n))
		checkInt8(t, "at page end", an, bn)
	}
}
