package distance

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

func funcPtr(f Func) uintptr { return reflect.ValueOf(f).Pointer() }

func TestImplementationMatchesCPU(t *testing.T) {
	if got, want := Implementation(), wantImplementation(); got != want {
		t.Fatalf("Implementation() = %q, want %q for this CPU and build", got, want)
	}
	t.Logf("kernels in use: %s", Implementation())
	// The asm set, when there is one, is the one in use.
	sets := archKernels()
	if want := wantImplementation(); want != "generic" && (len(sets) == 0 || sets[0].name != want) {
		t.Fatalf("archKernels() = %v, want %q first", sets, want)
	}
}

func TestChosenKernelsAreInstalled(t *testing.T) {
	want := genericKernels
	if sets := archKernels(); len(sets) > 0 {
		want = sets[0]
	}
	for _, c := range []struct {
		name      string
		got, want Func
	}{
		{"l2Impl", l2Impl, want.l2},
		{"dotImpl", dotImpl, want.dot},
		{"ipDistImpl", ipDistImpl, want.ipDist},
	} {
		if funcPtr(c.got) != funcPtr(c.want) {
			t.Errorf("%s is not the %s kernel", c.name, want.name)
		}
	}
}

func TestExportedWrappersUseChosenKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, n := range []int{0, 1, 17, 128, 1536} {
		a, b := normal(r, n), normal(r, n)
		if got, want := L2Squared(a, b), l2Impl(a, b); got != want {
			t.Errorf("L2Squared n=%d: %v != %v", n, got, want)
		}
		if got, want := Dot(a, b), dotImpl(a, b); got != want {
			t.Errorf("Dot n=%d: %v != %v", n, got, want)
		}
		if got, want := InnerProductDistance(a, b), ipDistImpl(a, b); got != want {
			t.Errorf("InnerProductDistance n=%d: %v != %v", n, got, want)
		}
	}
}

func funcPtr8(f Int8Func) uintptr { return reflect.ValueOf(f).Pointer() }
