package distance

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchDims are common embedding sizes: SIFT (128), MiniLM (384), 512,
// MNIST (784) and OpenAI ada-002 (1536).
var benchDims = []int{128, 384, 512, 784, 1536}

// benchKernel measures one kernel on one pair of vectors per dimension.
// Results are reported as ns/op; SetBytes gives the bandwidth over both
// vectors.
func benchKernel(b *testing.B, pick func(kernelSet) Func) {
	for _, k := range allKernels() {
		for _, dim := range benchDims {
			r := rand.New(rand.NewPCG(uint64(dim), 1))
			x, y := normal(r, dim), normal(r, dim)
			f := pick(k)
			b.Run(fmt.Sprintf("%s/%d", k.name, dim), func(b *testing.B) {
				b.SetBytes(int64(8 * dim))
				var sink float32
				for b.Loop() {
					sink += f(x, y)
				}
				_ = sink
			})
		}
	}
}

func BenchmarkL2(b *testing.B)     { benchKernel(b, func(k kernelSet) Func { return k.l2 }) }
func BenchmarkDot(b *testing.B)    { benchKernel(b, func(k kernelSet) Func { return k.dot }) }
func BenchmarkIPDist(b *testing.B) { benchKernel(b, func(k kernelSet) Func { return k.ipDist }) }

// BenchmarkMetricFunc measures the distance as the HNSW search calls it:
// through the function value Metric.Func returns.
func BenchmarkMetricFunc(b *testing.B) {
	for _, m := range []Metric{L2, Cosine} {
		for _, dim := range benchDims {
			r := rand.New(rand.NewPCG(uint64(dim), 2))
			x, y := normal(r, dim), normal(r, dim)
			f := m.Func()
			b.Run(fmt.Sprintf("%v/%d", m, dim), func(b *testing.B) {
				var sink float32
				for b.Loop() {
					sink += f(x, y)
				}
				_ = sink
			})
		}
	}
}

// benchInt8 measures one int8 kernel per dimension; SetBytes counts both
// codes, so the bandwidth compares with the float kernels' figures.
func benchInt8(b *testing.B, pick func(int8Set) Int8Func) {
	for _, k := range allInt8Kernels() {
		for _, dim := range benchDims {
			r := rand.New(rand.NewPCG(uint64(dim), 3))
			x, y := randCodes(r, dim), randCodes(r, dim)
			f := pick(k)
			b.Run(fmt.Sprintf("%s/%d", k.name, dim), func(b *testing.B) {
				b.SetBytes(int64(2 * dim))
				var sink int32
				for b.Loop() {
					sink += f(x, y)
				}
				_ = sink
			})
		}
	}
}

func BenchmarkL2Int8(b *testing.B)  { benchInt8(b, func(k int8Set) Int8Func { return k.l2 }) }
func BenchmarkDotInt8(b *testing.B) { benchInt8(b, func(k int8Set) Int8Func { return k.dot }) }
