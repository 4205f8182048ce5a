package hnsw

// Unreached returns the live nodes that a walk over layer 0 from the entry
// point never visits, in id order, with their layer-0 in-degree (how many
// lists name them; 0 for "no list names it any more"). A search, whatever
// its ef, cannot return such a node. It is a check for tests and fsck: it
// reads every list once and must not run alongside Adds or Deletes if its
// answer is to be exact.
func (g *Graph) Unreached() (ids []uint32, indeg []int) {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	tab := g.table.Load().chunks
	n := int(min(g.count.Load(), uint64(limitOf(tab))))
	e := g.entry.Load()
	if n == 0 || e == noEntry {
		return nil, nil
	}
	in := make([]int, n)
	seen := make([]bool, n)
	for id := range n {
		if metaOf(tab, uint32(id))&metaReady == 0 {
			continue
		}
		list := g.linkList(tab, uint32(id), 0)
		for _, x := range list[1 : 1+int(list[0])] {
			in[x]++
		}
	}
	ep, _ := unpackEntry(e)
	queue := []uint32{ep}
	seen[ep] = true
	for len(queue) > 0 {
		u := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		list := g.linkList(tab, u, 0)
		for _, x := range list[1 : 1+int(list[0])] {
			if !seen[x] {
				seen[x] = true
				queue = append(queue, x)
			}
		}
	}
	for id := range n {
		m := metaOf(tab, uint32(id))
		if !seen[id] && m&metaReady != 0 && m&metaDeleted == 0 {
			ids = append(ids, uint32(id))
			indeg = append(indeg, in[id])
		}
	}
	return ids, indeg
}
