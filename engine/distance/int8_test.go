package distance

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// allInt8Kernels is every int8 implementation this binary can run on this
// CPU: the generic reference plus the assembly sets archInt8 reports (on
// arm64 with the dot-product extension, both NEON sets).
func allInt8Kernels() []int8Set {
	return append([]int8Set{genericInt8}, archInt8()...)
}

// refInt8 is the reference computed in int64, so that it cannot overflow
// whatever the kernels do.
func refInt8(a, b []int8) (l2, dot int64) {
	for i := range a {
		d := int64(a[i]) - int64(b[i])
		l2 += d * d
		dot += int64(a[i]) * int64(b[i])
	}
	return l2, dot
}

func randCodes(r *rand.Rand, n int) []int8 {
	v := make([]int8, n)
	for i := range v {
		v[i] = int8(r.IntN(256) - 128)
	}
	return v
}

// poisonedCodes copies vals into a larger array at offset off, surrounded
// by extreme codes, so a kernel that reads outside the slice gets a
// different (exact) answer.
func poisonedCodes(vals []int8, off int, poison int8) []int8 {
	buf := make([]int8, off+len(vals)+80)
	for i := range buf {
		buf[i] = poison
	}
	copy(buf[off:], vals)
	return buf[off : off+len(vals) : off+len(vals)]
}

func checkInt8(t *testing.T, what string, a, b []int8) {
	t.Helper()
	wantL2, wantDot := refInt8(a, b[:len(a)])
	for _, k := range allInt8Kernels() {
		if got := k.l2(a, b); int64(got) != wantL2 {
			t.Fatalf("%s %s L2Int8 n=%d: got %d, want %d", k.name, what, len(a), got, wantL2)
		}
		if got := k.dot(a, b); int64(got) != wantDot {
			t.Fatalf("%s %s DotInt8 n=%d: got %d, want %d", k.name, what, len(a), got, wantDot)
		}
	}
}

// TestInt8KernelsAgainstReference sweeps every length 0..1100 (every main
// loop, 16-step and scalar-tail phase) with random codes over the whole
// int8 range, poisoned on both sides.
func TestInt8KernelsAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 21))
	for n := 0; n <= maxTestLen; n++ {
		a := poisonedCodes(randCodes(r, n), 0, 127)
		b := poisonedCodes(randCodes(r, n), 0, -128)
		checkInt8(t, "random", a, b)
	}
}

// TestInt8KernelsExtremes uses the codes that make the largest terms
// (-128 against 127, -128 against -128) at awkward lengths and at
// MaxInt8Len, where the int32 sums come closest to overflowing.
func TestInt8KernelsExtremes(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 31, 33, 63, 64, 65, 127, 777, 1023, MaxInt8Len} {
		lo := make([]int8, n)
		hi := make([]int8, n)
		for i := range lo {
			lo[i], hi[i] = -128, 127
		}
		checkInt8(t, "lo-hi", lo, hi)
		checkInt8(t, "lo-lo", lo, lo)
		checkInt8(t, "hi-hi", hi, hi)
		alt := make([]int8, n)
		for i := range alt {
			alt[i] = int8(-128 + 255*(i%2))
		}
		checkInt8(t, "alternating", alt, lo)
	}
}

// TestInt8KernelsUnaligned starts a and b at every offset 0..15 bytes into
// their arrays, so loads cross 16- and 32-byte boundaries at every phase.
func TestInt8KernelsUnaligned(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 22))
	lengths := []int{1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 67, 127, 128, 129, 383, 384, 777, 784}
	for offA := 0; offA < 16; offA++ {
		for offB := 0; offB < 16; offB += 3 {
			for _, n := range lengths {
				checkInt8(t, fmt.Sprintf("offsets %d,%d", offA, offB),
					poisonedCodes(randCodes(r, n), offA, -128), poisonedCodes(randCodes(r, n), offB, 127))
			}
		}
	}
}

// TestInt8KernelsLongerB checks that only len(a) codes of b count.
func TestInt8KernelsLongerB(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 23))
	for n := 0; n <= 130; n++ {
		b := randCodes(r, n+9)
		for i := n; i < len(b); i++ {
			b[i] = -128
		}
		checkInt8(t, "longer b", poisonedCodes(randCodes(r, n), 3, 127), b)
	}
}

// TestInt8KernelsEmptyAndUnchanged covers nil and empty codes and checks
// that the kernels leave their inputs alone.
func TestInt8KernelsEmptyAndUnchanged(t *testing.T) {
	r := rand.New(rand.NewPCG(24, 24))
	a, b := randCodes(r, 301), randCodes(r, 301)
	ca, cb := append([]int8(nil), a...), append([]int8(nil), b...)
	for _, k := range allInt8Kernels() {
		for _, e := range [][]int8{nil, {}} {
			if k.l2(e, nil) != 0 || k.dot(e, []int8{5}) != 0 {
				t.Errorf("%s: non-zero result on empty codes", k.name)
			}
		}
		k.l2(a, b)
		k.dot(a, b)
	}
	for i := range a {
		if a[i] != ca[i] || b[i] != cb[i] {
			t.Fatalf("input changed at %d", i)
		}
	}
}

// TestInt8ChosenKernelsAreInstalled: the exported functions are the best
// set archInt8 offers (or the generic one), and Int8Implementation names it.
func TestInt8ChosenKernelsAreInstalled(t *testing.T) {
	want := genericInt8
	if sets := archInt8(); len(sets) > 0 {
		want = sets[0]
	}
	if Int8Implementation() != want.name {
		t.Fatalf("Int8Implementation() = %q, want %q", Int8Implementation(), want.name)
	}
	if funcPtr8(L2Int8Func()) != funcPtr8(want.l2) || funcPtr8(DotInt8Func()) != funcPtr8(want.dot) {
		t.Fatalf("the exported int8 kernels are not the %s set", want.name)
	}
	t.Logf("int8 kernels in use: %s (available: %d sets)", Int8Implementation(), len(allInt8Kernels()))
	r := rand.New(rand.NewPCG(25, 25))
	a, b := randCodes(r, 100), randCodes(r, 100)
	l2, dot := refInt8(a, b)
	if int64(L2Int8(a, b)) != l2 || int64(DotInt8(a, b)) != dot {
		t.Fatal("L2Int8/DotInt8 disagree with the reference")
	}
}

// FuzzInt8Kernels compares every int8 kernel with the int64 reference on
// codes taken from the fuzzer's bytes: the first half for a, the rest b.
func FuzzInt8Kernels(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x80, 0x7f})
	f.Add(make([]byte, 2*37))
	f.Add([]byte("sixty-four bytes of text give thirty-two codes per vector......"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := len(data) / 2
		v := make([]int8, len(data))
		for i, x := range data {
			v[i] = int8(x)
		}
		checkInt8(t, "fuzz", v[:n:n], v[n:2*n])
	})
}
