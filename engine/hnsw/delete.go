package hnsw

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Delete tombstones id: it is never returned by a search again but keeps
// routing searches until Vacuum removes it. Deleting a deleted node is a
// no-op; an id that was never added is ErrNotFound.
func (g *Graph) Delete(id uint32) error {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	g.mutateMu.RLock()
	defer g.mutateMu.RUnlock()
	tab := g.table.Load().chunks
	if uint64(id) >= g.count.Load() || id >= limitOf(tab) {
		return fmt.Errorf("hnsw delete %d: %w", id, ErrNotFound)
	}
	m := &tab[id>>chunkBits].meta[id&chunkMask]
	if m.Load()&metaReady == 0 {
		return fmt.Errorf("hnsw delete %d: %w", id, ErrNotFound)
	}
	if m.Or(metaDeleted)&metaDeleted == 0 {
		g.deleted.Add(1)
	}
	return nil
}

// Vacuum removes tombstoned nodes, holding the graph exclusively. It
//
//  1. repairs, on every layer, each live node's list that names a deleted
//     node: candidates are its live neighbours plus the live neighbours of
//     its deleted neighbours (the closest EfConstruction of them), re-selected
//     with the heuristic (in parallel; each node's repair reads only its own
//     list and deleted nodes' lists, so the result does not depend on order);
//  2. picks a new entry point if the old one is deleted (the live node with
//     the highest level, lowest id on ties);
//  3. re-links, as a fresh insert would, any live node left with no
//     neighbours or no incoming link on layer 0, so none becomes unreachable;
//  4. compacts ids in place (dense, order preserved) and frees surplus chunks.
//
// It returns oldToNew, indexed by old id: the new id, or math.MaxUint32 for a
// removed node. With nothing deleted it is the identity and nothing moves.
func (g *Graph) Vacuum() ([]uint32, error) { return g.vacuum(nil) }

// PlanVacuum returns the oldToNew a Vacuum started now would return: live
// nodes keep their order and become dense, deleted ones go. The caller
// must keep Adds and Deletes out until the Vacuum.
func (g *Graph) PlanVacuum() []uint32 {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	n := int(g.count.Load())
	tab := g.table.Load().chunks
	oldToNew := make([]uint32, n)
	next := uint32(0)
	for id := range oldToNew {
		if g.isDel(tab, uint32(id)) {
			oldToNew[id] = noID
			continue
		}
		oldToNew[id] = next
		next++
	}
	return oldToNew
}

// VacuumOriginals is Vacuum for a graph whose vectors live in an Originals
// store: o, which must hold them renumbered as PlanVacuum says, replaces
// the store in the same exclusive hold, so no search reads the old store
// with the new ids.
func (g *Graph) VacuumOriginals(o Originals) ([]uint32, error) {
	if o == nil {
		return nil, fmt.Errorf("hnsw vacuum: %w: no originals store", errQuantState)
	}
	return g.vacuum(o)
}

func (g *Graph) vacuum(o Originals) ([]uint32, error) {
	g.quantMu.Lock()
	defer g.quantMu.Unlock()
	// Stoppable searches in progress give way (ErrInterrupted) instead of
	// making the vacuum, and whoever waits on it, wait for their end.
	defer g.holdExclusive()()
	if u := g.unlinked.Load(); u > 0 {
		return nil, fmt.Errorf("hnsw vacuum: %d reserved nodes are not linked yet", u)
	}
	st := g.quant()
	if st.encode && (!st.traverse || st.spaceCount() != 1) {
		return nil, fmt.Errorf("hnsw vacuum: %w: an encoding is under way", errQuantState)
	}
	if (o != nil) != (!st.floats) {
		return nil, fmt.Errorf("hnsw vacuum: %w: a new originals store goes with vectors not in memory, and only then", errQuantState)
	}
	if o != nil {
		defer g.qs.Store(st.with(func(n *quantState) { n.originals = o }))
	}
	n := int(g.count.Load())
	tab := g.table.Load().chunks
	oldToNew := make([]uint32, n)
	if g.deleted.Load() == 0 {
		for i := range oldToNew {
			oldToNew[i] = uint32(i)
		}
		return oldToNew, nil
	}

	g.repairAll(tab, n)
	ep := g.chooseEntry(tab, n)
	if ep != noID {
		g.relinkOrphans(tab, n)
	}
	g.compact(tab, n, oldToNew, ep)
	return oldToNew, nil
}

func (g *Graph) isDel(tab []*chunk, id uint32) bool { return metaOf(tab, id)&metaDeleted != 0 }

// repairAll runs repairNode over live nodes on GOMAXPROCS workers.
func (g *Graph) repairAll(tab []*chunk, n int) {
	workers := max(1, min(runtime.GOMAXPROCS(0), (n+1023)/1024))
	var next atomic.Int64
	const batch = 256
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := g.getScratch()
			defer g.putScratch(s)
			for {
				start := int(next.Add(batch)) - batch
				if start >= n {
					return
				}
				for id := start; id < min(start+batch, n); id++ {
					m := metaOf(tab, uint32(id))
					if m&metaDeleted != 0 {
						continue
					}
					for l := levelOfMeta(m); l >= 0; l-- {
						g.repairList(s, tab, uint32(id), l)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// repairList re-selects u's neighbours at level if any of them is deleted.
func (g *Graph) repairList(s *scratch, tab []*chunk, u uint32, level int) {
	list := g.linkList(tab, u, level)
	cnt := int(list[0])
	hasDeleted := false
	for _, x := range list[1 : 1+cnt] {
		if g.isDel(tab, x) {
			hasDeleted = true
			break
		}
	}
	if !hasDeleted {
		return
	}
	limit := limitOf(tab)
	s.vis.reset(int(limit))
	stamps, epoch := s.vis.stamps, s.vis.epoch
	stamps[u] = epoch
	uv := g.nodeQuery(s, g.linkQuant(), tab, u)
	cs := s.shrink[:0]
	consider := func(x uint32) {
		if stamps[x] == epoch {
			return
		}
		stamps[x] = epoch
		if !g.isDel(tab, x) {
			cs = append(cs, item{g.distTo(uv, tab, x), x})
		}
	}
	for _, x := range list[1 : 1+cnt] {
		if !g.isDel(tab, x) {
			consider(x)
		}
	}
	for _, x := range list[1 : 1+cnt] {
		if g.isDel(tab, x) {
			dl := g.linkList(tab, x, level)
			for _, y := range dl[1 : 1+int(dl[0])] {
				consider(y)
			}
		}
	}
	sortItems(cs)
	if len(cs) > g.efc {
		cs = cs[:g.efc]
	}
	s.shrink = cs
	mcur := g.maxLinks(level)
	sel := cs
	if len(cs) > mcur {
		s.shrinkSel = g.selectNeighbors(s, tab, cs, mcur, s.shrinkSel, false)
		sel = s.shrinkSel
	}
	for j, it := range sel {
		list[1+j] = it.id
	}
	if len(sel) < cnt {
		clear(list[1+len(sel) : 1+cnt])
	}
	list[0] = uint32(len(sel))
}

// chooseEntry keeps a live entry point or picks the live node with the
// highest level; it returns noID (and clears the entry) if nothing is live.
func (g *Graph) chooseEntry(tab []*chunk, n int) uint32 {
	ep, _ := unpackEntry(g.entry.Load())
	if g.entry.Load() != noEntry && !g.isDel(tab, ep) {
		return ep
	}
	best, bestLevel := uint32(noID), -1
	for id := 0; id < n; id++ {
		m := metaOf(tab, uint32(id))
		if m&metaDeleted == 0 && levelOfMeta(m) > bestLevel {
			best, bestLevel = uint32(id), levelOfMeta(m)
		}
	}
	if best == noID {
		g.entry.Store(noEntry)
	} else {
		g.entry.Store(packEntry(best, bestLevel))
	}
	return best
}

// relinkOrphans gives every live node other than the entry point at least one
// outgoing and one incoming layer-0 link, by searching for it from the entry
// point as an insert would and adding reverse links. Deleted nodes are still
// present (and route) at this point; they are not linked to.
func (g *Graph) relinkOrphans(tab []*chunk, n int) {
	indeg := make([]uint32, n)
	for id := 0; id < n; id++ {
		if g.isDel(tab, uint32(id)) {
			continue
		}
		list := g.linkList(tab, uint32(id), 0)
		for _, x := range list[1 : 1+int(list[0])] {
			indeg[x]++
		}
	}
	ep, top := unpackEntry(g.entry.Load())
	s := g.getScratch()
	defer g.putScratch(s)
	for id := 0; id < n; id++ {
		u := uint32(id)
		if u == ep || g.isDel(tab, u) {
			continue
		}
		if indeg[id] > 0 && g.linkList(tab, u, 0)[0] > 0 {
			continue
		}
		uv := &s.q
		g.prepareNode(s, g.linkQuant(), tab, u)
		cur, curDist := ep, g.distTo(uv, tab, ep)
		for l := top; l > 0; l-- {
			cur, curDist = g.greedyClosest(s, tab, uv, cur, curDist, l)
		}
		_, _ = g.searchLayer(s, tab, uv, cur, curDist, 0, g.efc, nil, true, u, nil) // no stop function: it cannot fail
		if nearest, _ := g.pickNeighbors(s, tab, u, uv); nearest == noID {
			continue
		}
		g.setOwnLinks(s, tab, u, 0, s.sel, uv.store)
		for _, nb := range s.sel {
			g.addReverseLink(s, tab, nb.id, u, 0, uv.store)
			indeg[id]++
		}
	}
}

// compact moves live nodes down to dense ids in place. Node old moves to
// oldToNew[old] <= old, and nodes are processed in ascending order, so a
// source slot is always read before anything overwrites it.
func (g *Graph) compact(tab []*chunk, n int, oldToNew []uint32, ep uint32) {
	next := uint32(0)
	for old := 0; old < n; old++ {
		if g.isDel(tab, uint32(old)) {
			oldToNew[old] = noID
		} else {
			oldToNew[old] = next
			next++
		}
	}
	live := int(next)
	var upperWords int64
	for old := 0; old < n; old++ {
		nw := oldToNew[old]
		if nw == noID {
			continue
		}
		src, dst := tab[old>>chunkBits], tab[nw>>chunkBits]
		si, di := old&chunkMask, int(nw&chunkMask)
		if int(nw) != old {
			if src.vecs != nil {
				copy(dst.vecs[di*g.dim:(di+1)*g.dim], src.vecs[si*g.dim:(si+1)*g.dim])
			}
			if sb, db := src.codes.Load(), dst.codes.Load(); sb != nil {
				copy(db.codes[di*g.dim:(di+1)*g.dim], sb.codes[int(si)*g.dim:(int(si)+1)*g.dim])
				if sb.corr != nil {
					db.corr[di] = sb.corr[si]
				}
			}
			copy(dst.links0[di*g.stride0:(di+1)*g.stride0], src.links0[si*g.stride0:(si+1)*g.stride0])
			dst.upper[di] = src.upper[si]
			dst.meta[di].Store(src.meta[si].Load())
		}
		level := levelOfMeta(dst.meta[di].Load())
		if up := dst.upper[di]; up != nil {
			upperWords += int64(len(*up))
		}
		for l := 0; l <= level; l++ {
			remapList(g.linkList(tab, nw, l), oldToNew)
		}
	}
	// Clear the vacated slots: a future Add expects an empty row.
	keep := (live + chunkMask) >> chunkBits
	for id := live; id < min(n, keep<<chunkBits); id++ {
		c, i := tab[id>>chunkBits], id&chunkMask
		clear(c.links0[i*g.stride0 : (i+1)*g.stride0])
		c.upper[i] = nil
		c.meta[i].Store(0)
	}
	chunks := make([]*chunk, keep)
	copy(chunks, tab[:keep])
	for _, c := range tab[keep:] {
		g.freeChunk(c)
	}
	g.freeRetired()
	g.table.Store(&chunkTable{chunks: chunks})
	g.count.Store(uint64(live))
	g.deleted.Store(0)
	g.upperWords.Store(upperWords)
	if ep != noID {
		_, top := unpackEntry(g.entry.Load())
		g.entry.Store(packEntry(oldToNew[ep], top))
	}
}

// remapList rewrites a (count, ids...) row through oldToNew, dropping any
// removed id and zeroing the tail.
func remapList(list []uint32, oldToNew []uint32) {
	cnt := int(list[0])
	k := 0
	for _, x := range list[1 : 1+cnt] {
		if y := oldToNew[x]; y != noID {
			list[1+k] = y
			k++
		}
	}
	clear(list[1+k : 1+cnt])
	list[0] = uint32(k)
}
