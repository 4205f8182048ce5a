package hnsw

// Links of clamped vectors with the originals on disk.
//
// With the float32 vectors only in an Originals store, an insert walks
// the graph and chooses links on codes: reading the store for every node
// it visits would be far slower, and for vectors inside the trained ranges
// codes rank candidates well enough (the graph's recall matches float32's
// on the load test's data and MNIST, docs/quantization.md). A vector far
// outside the ranges is another matter: its values are clamped, vectors
// clamped the same way get the same code, and their distances tie at 0.
// A walk on codes then finds any of them, the heuristic kept every tie,
// their lists filled with one another, and nodes that no list named any
// more could not be reached by a search; retraining fixed the codes, not
// the links (TestDriftWithOriginalsOnDiskKeepsTheGraphConnected).
//
// So an insert whose vector its space clamps (more than 1% of the values,
// prepareNode) walks the graph on the originals (query.store), and its
// link decisions, its own neighbours and the lists it joins, are taken on
// float32 distances read from the store: each decision reads every vector
// it needs first (readLinkVecs), and if the store fails it is taken on
// codes as before, which is worse but keeps every list valid. Such
// inserts cost a few times an ordinary one, for as long as the data
// drifts: the engine retrains a drift after the write that shows it
// (engine/quantize.go, maybeStartQuant).

// linkVecs holds the float32 vectors read for the link decision in hand,
// by node id. Each vector has its own slice, reused across decisions, so
// one returned stays valid while more are read.
type linkVecs struct {
	rows map[uint32]int
	ids  []uint32
	vecs [][]float32
}

// exactLinks reports whether the graph's float32 vectors are only in the
// originals store (the arena has none).
func exactLinks(st *quantState) bool { return !st.floats && st.originals != nil }

// resetLinkVecs forgets the vectors read so far (they stay allocated).
func (s *scratch) resetLinkVecs() {
	clear(s.lv.rows)
	s.lv.ids = s.lv.ids[:0]
}

// markLinkVecs and truncLinkVecs bracket a decision whose vectors are
// dropped after it (the earlier ones stay).
func (s *scratch) markLinkVecs() int { return len(s.lv.ids) }

func (s *scratch) truncLinkVecs(mark int) {
	for _, id := range s.lv.ids[mark:] {
		delete(s.lv.rows, id)
	}
	s.lv.ids = s.lv.ids[:mark]
}

// linkVec returns id's vector if readLinkVecs read it, else nil.
func (s *scratch) linkVec(id uint32) []float32 {
	r, ok := s.lv.rows[id]
	if !ok {
		return nil
	}
	return s.lv.vecs[r]
}

// readLinkVecs reads from the store the vectors of the ids not read yet,
// and reports whether every one of them is there.
func (g *Graph) readLinkVecs(s *scratch, o Originals, ids ...uint32) bool {
	if s.lv.rows == nil {
		s.lv.rows = make(map[uint32]int)
	}
	for _, id := range ids {
		if _, ok := s.lv.rows[id]; ok {
			continue
		}
		r := len(s.lv.ids)
		if r == len(s.lv.vecs) {
			s.lv.vecs = append(s.lv.vecs, make([]float32, g.dim))
		}
		if err := o.ReadVectors(id, s.lv.vecs[r]); err != nil {
			return false
		}
		s.lv.rows[id] = r
		s.lv.ids = append(s.lv.ids, id)
	}
	return true
}

// readLinkItems is readLinkVecs for the ids of items.
func (g *Graph) readLinkItems(s *scratch, o Originals, items []item) bool {
	for _, it := range items {
		if !g.readLinkVecs(s, o, it.id) {
			return false
		}
	}
	return true
}

// remeasure sets each item's distance to the float32 distance from base,
// all of whose vectors readLinkVecs read, and sorts them ascending.
func (g *Graph) remeasure(s *scratch, base []float32, items []item) {
	for i := range items {
		items[i].dist = g.dist(base, s.linkVec(items[i].id))
	}
	sortItems(items)
}
