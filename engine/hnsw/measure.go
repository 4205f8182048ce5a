package hnsw

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/akidb/akidb/engine/distance"
)

// query is a vector as the graph measures distances from it: the float32
// vector itself, and on a graph that traverses codes, the vector prepared
// for each space in use (a re-encoding has two; a chunk's block says
// which its codes are in).
//
// store, when set, is where the nodes' float32 vectors are read from: an
// insert whose vector lies outside the ranges its codes are in walks the
// graph on the originals (linkvecs.go); sbuf receives each one.
type query struct {
	vec   []float32
	codes bool
	prep  [2]distance.Int8Query
	store Originals
	sbuf  []float32
}

// prepare readies q for v under st.
func (g *Graph) prepare(q *query, st *quantState, v []float32) {
	q.vec = v
	q.store = nil
	q.codes = st.traverse
	if !q.codes {
		return
	}
	for i, sp := range st.spaces {
		if sp != nil {
			sp.Prepare(&q.prep[i], v)
		}
	}
}

// codePreparer is a Space that can prepare a query straight from one of
// its codes (engine/quant's symmetric forms).
type codePreparer interface {
	PrepareCode(q *distance.Int8Query, code []int8) bool
}

// nodeQuery prepares s.nq for distances from node id: from its float
// vector when the arena has it, else from its code, directly when its
// space allows (inserts and list repairs with the originals on disk
// prepare a node for every candidate they weigh: decoding and encoding
// each again took half of such a build), or from the decoded code.
func (g *Graph) nodeQuery(s *scratch, st *quantState, tab []*chunk, id uint32) *query {
	q := &s.nq
	if !st.traverse {
		q.vec, q.codes = g.vec(tab, id), false
		return q
	}
	if !st.floats && st.spaceCount() == 1 {
		b := tab[id>>chunkBits].codes.Load()
		if cp, ok := st.spaces[b.space].(codePreparer); ok {
			i := int(id & chunkMask)
			if cp.PrepareCode(&q.prep[b.space], b.codes[i*g.dim:(i+1)*g.dim]) {
				q.vec, q.codes = nil, true
				return q
			}
		}
	}
	g.prepare(q, st, g.nodeVector(st, tab, id, &s.ndec))
	return q
}

// nodeVector returns id's vector from the arena when it is there, else the
// vector its code stands for, decoded into *buf (grown as needed).
func (g *Graph) nodeVector(st *quantState, tab []*chunk, id uint32, buf *[]float32) []float32 {
	c := tab[id>>chunkBits]
	i := int(id & chunkMask)
	if st.floats {
		return c.vecs[i*g.dim : (i+1)*g.dim : (i+1)*g.dim]
	}
	if cap(*buf) < g.dim {
		*buf = make([]float32, g.dim)
	}
	v := (*buf)[:g.dim]
	b := c.codes.Load()
	st.spaces[b.space].Decode(v, b.codes[i*g.dim:(i+1)*g.dim])
	return v
}

// distTo is the distance from q to node id.
func (g *Graph) distTo(q *query, tab []*chunk, id uint32) float32 {
	c := tab[id>>chunkBits]
	i := int(id & chunkMask)
	if q.codes {
		b := c.codes.Load()
		var corr float32
		if b.corr != nil {
			corr = b.corr[i]
		}
		return q.prep[b.space].Dist(b.codes[i*g.dim:(i+1)*g.dim:(i+1)*g.dim], corr)
	}
	if q.store != nil {
		return g.storeDist(q, id)
	}
	return g.dist(q.vec, c.vecs[i*g.dim:(i+1)*g.dim:(i+1)*g.dim])
}

// storeDist is the distance from q to node id's vector read from q.store;
// +Inf (a node no walk goes towards) when the store fails.
func (g *Graph) storeDist(q *query, id uint32) float32 {
	if cap(q.sbuf) < g.dim {
		q.sbuf = make([]float32, g.dim)
	}
	q.sbuf = q.sbuf[:g.dim]
	if q.store.ReadVectors(id, q.sbuf) != nil {
		return float32(math.Inf(1))
	}
	return g.dist(q.vec, q.sbuf)
}

// prefetchNode starts loading the first lines of what measuring id reads.
func (g *Graph) prefetchNode(q *query, tab []*chunk, id uint32, lines int) {
	c := tab[id>>chunkBits]
	i := int(id & chunkMask)
	if q.codes {
		b := c.codes.Load()
		prefetchLines((*float32)(unsafe.Pointer(&b.codes[i*g.dim])), lines)
		return
	}
	if q.store != nil {
		return
	}
	prefetchLines(&c.vecs[i*g.dim], lines)
}

// lines is how many cache lines one node's vector or code spans.
func (g *Graph) lines(q *query) int {
	if q.codes {
		return (g.dim + 63) / 64
	}
	return (g.dim*4 + 63) / 64
}

// codeAhead is how many nodes ahead measure fetches codes: 3 took 3-13%
// less CPU per query than 1 on MNIST (BenchmarkSearchTexmex, same process,
// rotated); 4 was not clearly better.
const codeAhead = 3

// measure writes the distance from q to each node of batch into dists,
// prefetching the next node's vector (or code) whole while it measures the
// current one: for vectors of hundreds of dimensions the kernels are
// otherwise bound by memory latency.
func (g *Graph) measure(q *query, tab []*chunk, batch []uint32, dists []float32) {
	if len(batch) == 0 {
		return
	}
	if q.store != nil {
		for bi, nb := range batch {
			dists[bi] = g.storeDist(q, nb)
		}
		return
	}
	lines := g.lines(q)
	dim := g.dim
	g.prefetchNode(q, tab, batch[0], lines)
	if !q.codes {
		dist := g.dist
		for bi, nb := range batch {
			if bi+1 < len(batch) {
				nx := batch[bi+1]
				prefetchLines(&tab[nx>>chunkBits].vecs[int(nx&chunkMask)*dim], lines)
			}
			off := int(nb&chunkMask) * dim
			dists[bi] = dist(q.vec, tab[nb>>chunkBits].vecs[off:off+dim:off+dim])
		}
		return
	}
	// A code is measured in a fraction of the time its lines take to
	// arrive (784 codes: about 20 ns with VNNI), so codes are fetched
	// whole codeAhead nodes ahead rather than one.
	for j := 1; j < min(codeAhead, len(batch)); j++ {
		g.prefetchNode(q, tab, batch[j], lines)
	}
	for bi, nb := range batch {
		if bi+codeAhead < len(batch) {
			g.prefetchNode(q, tab, batch[bi+codeAhead], lines)
		}
		b := tab[nb>>chunkBits].codes.Load()
		i := int(nb & chunkMask)
		var corr float32
		if b.corr != nil {
			corr = b.corr[i]
		}
		dists[bi] = q.prep[b.space].Dist(b.codes[i*dim:(i+1)*dim:(i+1)*dim], corr)
	}
}

// readVector appends id's float vector to dst: from the arena, or read
// from the originals store.
func (g *Graph) readVector(st *quantState, tab []*chunk, id uint32, dst []float32) ([]float32, error) {
	if st.floats {
		return append(dst, g.vec(tab, id)...), nil
	}
	n := len(dst)
	dst = slices.Grow(dst, g.dim)[:n+g.dim]
	if err := st.originals.ReadVectors(id, dst[n:]); err != nil {
		return dst[:n], fmt.Errorf("hnsw: read vector %d: %w", id, err)
	}
	return dst, nil
}

// rerank measures the first r items of sorted (ascending by approximate
// distance) again with the float vectors and returns them sorted by
// those exact distances.
func (g *Graph) rerank(s *scratch, st *quantState, tab []*chunk, q []float32, sorted []item, r int) ([]item, error) {
	sorted = sorted[:min(r, len(sorted))]
	lines := (g.dim*4 + 63) / 64
	for i := range sorted {
		var v []float32
		if st.floats {
			// The candidates' vectors are rarely cached: fetch the next
			// one whole while this one is measured.
			if i+1 < len(sorted) {
				prefetchLines(&g.vec(tab, sorted[i+1].id)[0], lines)
			}
			v = g.vec(tab, sorted[i].id)
		} else {
			var err error
			if s.rvec, err = g.readVector(st, tab, sorted[i].id, s.rvec[:0]); err != nil {
				return nil, err
			}
			v = s.rvec
		}
		sorted[i].dist = g.dist(q, v)
	}
	slices.SortFunc(sorted, func(a, b item) int {
		switch {
		case a.dist < b.dist:
			return -1
		case a.dist > b.dist:
			return 1
		}
		return int(a.id) - int(b.id)
	})
	return sorted, nil
}
