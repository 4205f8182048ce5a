package loadtest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/akidb/akidb/bench/dataset"
)

// VectorSource gives the vector of every record and every query by index,
// deterministically: the same index always yields the same vector, whatever
// goroutine asks and in whatever order. Implementations must be safe for
// concurrent use.
type VectorSource interface {
	Dim() int
	// Record writes record i's vector (preloaded and inserted records
	// share one index space) into dst, which has Dim() values.
	Record(i uint64, dst []float32)
	// Query writes query j's vector into dst.
	Query(j uint64, dst []float32)
}

// Streams keep the pseudo-random sequences of different purposes apart.
const (
	streamCenters uint64 = 0x43454e5445525300 // "CENTERS"
	streamRecord  uint64 = 0x5245434f52440000 // "RECORD"
	streamQuery   uint64 = 0x5155455259000000 // "QUERY"
	streamBucket  uint64 = 0x4255434b45540000 // "BUCKET"
	streamFilter  uint64 = 0x46494c5445520000 // "FILTER"
	streamOps     uint64 = 0x4f50530000000000 // "OPS"
	streamNoise   uint64 = 0x4e4f495345000000 // "NOISE"
)

// hash64 mixes seed, stream and index into one well-spread value
// (splitmix64's finaliser).
func hash64(seed, stream, i uint64) uint64 {
	z := seed ^ stream
	z += (i + 1) * 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// rngFor is an independent generator for item i of a stream.
func rngFor(seed, stream, i uint64) *rand.Rand {
	return rand.New(rand.NewPCG(hash64(seed, stream, i), hash64(seed, stream^0xffff, i)))
}

// Clustered draws vectors from a seeded mixture of Gaussians: Clusters
// centres with N(0,1) components, and each vector is a centre picked at
// random plus N(0, Spread²) noise per component. Real embeddings are
// clustered like this, which makes HNSW's job harder than uniform noise
// (where every point is about equally far from every other).
type Clustered struct {
	dim     int
	seed    uint64
	spread  float64
	centers [][]float32
}

// DefaultSpread is the per-component noise around a cluster centre,
// relative to the centres' unit spread: clusters are distinct but overlap.
const DefaultSpread = 0.5

// NewClustered builds a source of dim-dimensional vectors around clusters
// centres derived from seed.
func NewClustered(dim, clusters int, seed uint64) (*Clustered, error) {
	if dim < 1 {
		return nil, fmt.Errorf("dimension must be at least 1, got %d", dim)
	}
	if clusters < 1 {
		return nil, fmt.Errorf("clusters must be at least 1, got %d", clusters)
	}
	c := &Clustered{dim: dim, seed: seed, spread: DefaultSpread, centers: make([][]float32, clusters)}
	r := rngFor(seed, streamCenters, 0)
	for i := range c.centers {
		v := make([]float32, dim)
		for d := range v {
			v[d] = float32(r.NormFloat64())
		}
		c.centers[i] = v
	}
	return c, nil
}

// Dim is the vectors' dimension.
func (c *Clustered) Dim() int { return c.dim }

// Record writes record i's vector.
func (c *Clustered) Record(i uint64, dst []float32) { c.draw(rngFor(c.seed, streamRecord, i), dst) }

// Query writes query j's vector: a fresh point of the same distribution.
func (c *Clustered) Query(j uint64, dst []float32) { c.draw(rngFor(c.seed, streamQuery, j), dst) }

func (c *Clustered) draw(r *rand.Rand, dst []float32) {
	center := c.centers[r.IntN(len(c.centers))]
	for d := range dst {
		dst[d] = center[d] + float32(c.spread*r.NormFloat64())
	}
	// A cosine collection refuses the zero vector; with Gaussian noise the
	// chance is nil but a one-dimensional source could still round to it.
	if allZero(dst) {
		dst[0] = 1
	}
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// FileVectors serves vectors from a file (.fvecs, .bvecs or IDX). Records
// take rows in order; records past the last row reuse rows from the start
// with a little deterministic noise (0.1% of the row's RMS per component)
// so no two records are identical, which would make the exact top-k
// ambiguous and the recall figure noisy. Queries take rows that no
// preloaded record uses when the file has more rows than the preload, and
// random rows otherwise.
type FileVectors struct {
	m       dataset.Matrix
	seed    uint64
	preload int
}

// NewFileVectors wraps rows; preload is how many records the run preloads.
func NewFileVectors(m dataset.Matrix, preload int, seed uint64) (*FileVectors, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.N == 0 || m.Dim == 0 {
		return nil, fmt.Errorf("the vector file has no rows")
	}
	return &FileVectors{m: m, seed: seed, preload: preload}, nil
}

// firstZeroRow is the index of the first all-zero row, or -1: a cosine
// collection refuses the zero vector.
func (f *FileVectors) firstZeroRow() int {
	for i := 0; i < f.m.N; i++ {
		if allZero(f.m.Row(i)) {
			return i
		}
	}
	return -1
}

// Dim is the file's dimension.
func (f *FileVectors) Dim() int { return f.m.Dim }

// Record writes record i's vector.
func (f *FileVectors) Record(i uint64, dst []float32) {
	n := uint64(f.m.N)
	copy(dst, f.m.Row(int(i%n)))
	if i < n {
		return
	}
	var ss float64
	for _, x := range dst {
		ss += float64(x) * float64(x)
	}
	scale := 1e-3 * math.Sqrt(ss/float64(len(dst)))
	r := rngFor(f.seed, streamNoise, i)
	for d := range dst {
		dst[d] += float32(scale * r.NormFloat64())
	}
}

// Query writes query j's vector.
func (f *FileVectors) Query(j uint64, dst []float32) {
	h := hash64(f.seed, streamQuery, j)
	if f.m.N > f.preload {
		copy(dst, f.m.Row(f.preload+int(h%uint64(f.m.N-f.preload))))
		return
	}
	copy(dst, f.m.Row(int(h%uint64(f.m.N))))
}
