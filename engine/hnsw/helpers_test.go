package hnsw

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

// clustered returns n vectors of dimension dim drawn from `clusters` random
// low-rank Gaussians: centre in [-1,1]^dim plus a random 6-dimensional
// subspace (scale 0.1 per axis) plus a little isotropic noise. Like real
// embeddings, the data has a low intrinsic dimension; isotropic blobs in 32
// dimensions would test the curse of dimensionality instead of the graph.
func clustered(seed uint64, n, dim, clusters int) [][]float32 {
	const intrinsic = 6
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	centres := make([][]float32, clusters)
	bases := make([][]float32, clusters)
	for i := range centres {
		c := make([]float32, dim)
		for j := range c {
			c[j] = rng.Float32()*2 - 1
		}
		centres[i] = c
		b := make([]float32, dim*intrinsic)
		for j := range b {
			b[j] = float32(rng.NormFloat64() * 0.1)
		}
		bases[i] = b
	}
	out := make([][]float32, n)
	var z [intrinsic]float32
	for i := range out {
		ci := rng.IntN(clusters)
		c, b := centres[ci], bases[ci]
		for j := range z {
			z[j] = float32(rng.NormFloat64())
		}
		v := make([]float32, dim)
		for j := range v {
			x := c[j] + float32(rng.NormFloat64())*0.01
			for t, zt := range z {
				x += b[j*intrinsic+t] * zt
			}
			v[j] = x
		}
		out[i] = v
	}
	return out
}

func normalizeAll(vs [][]float32) {
	for _, v := range vs {
		distance.Normalize(v)
	}
}

func refDist(m distance.Metric) func(a, b []float32) float32 {
	if m == distance.L2 {
		return distance.L2SquaredGeneric
	}
	return func(a, b []float32) float32 { return 1 - distance.DotGeneric(a, b) }
}

// bruteForce is the test's independent ground truth: the k nearest ids among
// those keep accepts, by the pure-Go reference kernels.
func bruteForce(m distance.Metric, data [][]float32, q []float32, k int, keep func(id uint32) bool) []uint32 {
	df := refDist(m)
	type pair struct {
		d  float32
		id uint32
	}
	var all []pair
	for i, v := range data {
		if keep != nil && !keep(uint32(i)) {
			continue
		}
		all = append(all, pair{df(q, v), uint32(i)})
	}
	slices.SortFunc(all, func(a, b pair) int {
		if a.d != b.d {
			if a.d < b.d {
				return -1
			}
			return 1
		}
		return int(a.id) - int(b.id)
	})
	out := make([]uint32, 0, k)
	for _, p := range all[:min(k, len(all))] {
		out = append(out, p.id)
	}
	return out
}

// recallOf is |got ∩ want| / |want| (1 when want is empty).
func recallOf(got []Neighbor, want []uint32) float64 {
	if len(want) == 0 {
		return 1
	}
	set := make(map[uint32]bool, len(want))
	for _, id := range want {
		set[id] = true
	}
	hit := 0
	for _, n := range got {
		if set[n.ID] {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

func mustNew(t testing.TB, cfg Config) *Graph {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return g
}

func build(t testing.TB, cfg Config, data [][]float32) *Graph {
	t.Helper()
	g := mustNew(t, cfg)
	for i, v := range data {
		id, err := g.Add(v)
		if err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
		if id != uint32(i) {
			t.Fatalf("Add %d returned id %d", i, id)
		}
	}
	return g
}

func encode(t testing.TB, g *Graph) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := g.Encode(&buf); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return buf.Bytes()
}

// checkInvariants round-trips g through Encode and Decode, whose validation
// checks every neighbour list (range, self links, duplicates, levels,
// padding), the entry point and the tombstone count.
func checkInvariants(t testing.TB, g *Graph) *Graph {
	t.Helper()
	b := encode(t, g)
	d, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("graph fails validation: %v", err)
	}
	return d
}

// meanRecall searches every query and averages recall@k against brute force.
func meanRecall(t testing.TB, g *Graph, data, queries [][]float32, k, ef int,
	allow func(uint32) bool) float64 {
	t.Helper()
	m := g.Config().Metric
	keepSet := make([]bool, len(data))
	for id := range keepSet {
		keepSet[id] = !g.IsDeleted(uint32(id)) && (allow == nil || allow(uint32(id)))
	}
	keep := func(id uint32) bool { return keepSet[id] }
	total := 0.0
	for _, q := range queries {
		got := g.Search(q, k, ef, allow)
		for i, n := range got {
			if !keep(n.ID) {
				t.Fatalf("Search returned id %d that is deleted or not allowed", n.ID)
			}
			if i > 0 && got[i-1].Dist > n.Dist {
				t.Fatalf("results not ascending: %v", got)
			}
			if want := refDist(m)(q, data[n.ID]); math.Abs(float64(want-n.Dist)) > 1e-3*(1+math.Abs(float64(want))) {
				t.Fatalf("id %d: dist %v, reference %v", n.ID, n.Dist, want)
			}
		}
		total += recallOf(got, bruteForce(m, data, q, k, keep))
	}
	return total / float64(len(queries))
}

// The 5000 x 32-d L2 graph that several recall tests start from, built once
// per test binary (building it dominates those tests, above all under -race)
// and handed out as independent decoded copies.
var l2Fixture struct {
	once sync.Once
	data [][]float32
	enc  []byte
	err  error
}

func recallCfg() Config {
	return Config{Dim: 32, Metric: distance.L2, M: 16, EfConstruction: 200, Seed: 11}
}

// l2Graph returns a fresh copy of the shared graph and its vectors by id.
func l2Graph(t testing.TB) (*Graph, [][]float32) {
	t.Helper()
	f := &l2Fixture
	f.once.Do(func() {
		f.data = clustered(21, 5000, 32, 40)
		g, err := New(recallCfg())
		if err != nil {
			f.err = err
			return
		}
		for _, v := range f.data {
			if _, err := g.Add(v); err != nil {
				f.err = err
				return
			}
		}
		var buf bytes.Buffer
		f.err = g.Encode(&buf)
		f.enc = buf.Bytes()
	})
	if f.err != nil {
		t.Fatalf("building the shared graph: %v", f.err)
	}
	g, err := Decode(bytes.NewReader(f.enc))
	if err != nil {
		t.Fatal(err)
	}
	return g, f.data
}

// sameAsDecoded checks that d, decoded from g's encoding b, encodes to the
// same bytes and answers every query exactly as g does.
func sameAsDecoded(t testing.TB, g, d *Graph, b []byte, queries [][]float32, ef int) {
	t.Helper()
	if !bytes.Equal(encode(t, d), b) {
		t.Fatal("re-encoding the decoded graph changed the bytes")
	}
	for i, q := range queries {
		a, _ := g.SearchWith(q, 10, ef, SearchOptions{})
		c, _ := d.SearchWith(q, 10, ef, SearchOptions{})
		if !slices.Equal(a, c) {
			t.Fatalf("query %d: decoded graph answers %v, original %v", i, c, a)
		}
	}
}
