//go:build (amd64 || arm64) && !noasm

package hnsw

// prefetchLines asks the CPU to start loading n 64-byte lines from p into
// cache. Search issues it for the next vector it will measure while it
// measures the current one: with vectors of hundreds of dimensions the
// distance kernels are otherwise bound by memory latency, not arithmetic
// (see doc.go). Go has no prefetch intrinsic, hence the assembly.
//
//go:noescape
func prefetchLines(p *float32, n int)
