package hnsw

// selectNeighbors is Malkov & Yashunin's Algorithm 4 as hnswlib implements
// it (getNeighborsByHeuristic2, keepPrunedConnections = false): walk the
// candidates from closest to furthest and keep one only if it is closer to
// the base point than to every neighbour kept so far. This spreads links
// over directions instead of spending them all on one tight cluster.
//
// cands must be sorted ascending by distance to the base point. Fewer than m
// candidates are all kept, unpruned, as hnswlib does. The result is appended
// to out[:0]. exact: the candidates' distances are float32 ones and
// readLinkVecs read every candidate's vector, which the comparisons use
// (linkvecs.go); else they measure with linkQuant.
func (g *Graph) selectNeighbors(s *scratch, tab []*chunk, cands []item, m int, out []item, exact bool) []item {
	out = out[:0]
	if len(cands) < m {
		return append(out, cands...)
	}
	if exact {
		for _, c := range cands {
			if len(out) >= m {
				break
			}
			cv := s.linkVec(c.id)
			good := true
			for _, kept := range out {
				if g.dist(cv, s.linkVec(kept.id)) < c.dist {
					good = false
					break
				}
			}
			if good {
				out = append(out, c)
			}
		}
		return out
	}
	st := g.linkQuant()
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		// Measured from c: on a quantized graph c is prepared as a query
		// once, then compared with every neighbour kept so far.
		cv := g.nodeQuery(s, st, tab, c.id)
		good := true
		for _, kept := range out {
			if g.distTo(cv, tab, kept.id) < c.dist {
				good = false
				break
			}
		}
		if good {
			out = append(out, c)
		}
	}
	return out
}
