package distance

// kernelSet is one complete implementation of the kernels. Every
// architecture offers the generic set plus whatever its CPU supports; the
// best one is chosen once, at package initialisation, and never changes.
type kernelSet struct {
	name   string // reported by Implementation
	l2     Func   // squared Euclidean distance
	dot    Func   // inner product
	ipDist Func   // 1 - inner product, the inner-product/cosine distance
}

// genericKernels is the pure-Go reference set; it is always available.
var genericKernels = kernelSet{
	name:   "generic",
	l2:     L2SquaredGeneric,
	dot:    DotGeneric,
	ipDist: innerProductDistanceGeneric,
}

// chosenKernels returns the fastest set this CPU can run. archKernels (in
// the per-architecture files) lists the assembly sets usable on this CPU,
// best first; it is empty under the noasm build tag and on other
// architectures. golang.org/x/sys/cpu has detected the CPU features by now,
// because imported packages are initialised before this one.
func chosenKernels() kernelSet {
	if sets := archKernels(); len(sets) > 0 {
		return sets[0]
	}
	return genericKernels
}

// The chosen implementation, set once during package initialisation and
// read-only afterwards. They are separate function variables (rather than
// a kernelSet) so that Metric.Func can hand out the kernel itself and the
// search path pays a single indirect call per distance.
var (
	chosen     = chosenKernels()
	l2Impl     = chosen.l2
	dotImpl    = chosen.dot
	ipDistImpl = chosen.ipDist
	implName   = chosen.name
)

// L2Squared returns the squared Euclidean distance between a and b
// (len(b) must be at least len(a)).
func L2Squared(a, b []float32) float32 { return l2Impl(a, b) }

// Dot returns the inner product of a and b (len(b) must be at least len(a)).
func Dot(a, b []float32) float32 { return dotImpl(a, b) }

// Implementation names the kernels chosen at init: "generic", "avx2+fma" or "neon".
func Implementation() string { return implName }
