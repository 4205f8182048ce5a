package engine

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/akidb/akidb/engine/hnsw"
)

// Staged indexing. A durable upsert is acknowledged once its log record is
// fsynced and its records are published; linking its vectors into the HNSW
// graph (most of an upsert's CPU) then continues in the background. Until
// a staged node is linked, searches find it by an exact scan of the staged
// set, so every acknowledged record is searchable at once (read your
// writes). Writers wait for room when StageLimit nodes are staged, which
// bounds both the backlog and the cost of that scan. Decoupling the two is
// what lets concurrent writers share fsyncs without leaving the CPU idle
// while they wait for them (docs/durability.md).

// DefaultStageLimit is how many published vectors may wait to be linked
// into the graph before writers wait for room.
const DefaultStageLimit = 1024

// stageUpsert reserves a batch's vectors in the graph's arena without
// linking them: the cheap half of indexing. On error nothing stays
// reserved.
func (c *Collection) stageUpsert(b UpsertBatch) indexedBatch {
	ib := indexedBatch{b: b, nodes: make([]uint32, len(b.Records)), staged: true}
	for i, r := range b.Records {
		n, err := c.graph.Reserve(r.Vector)
		if err != nil {
			ib.err = fmt.Errorf("collection %s: index record %q: %w", c.cfg.Name, r.ID, err)
			for _, m := range ib.nodes[:i] {
				c.graph.Abandon(m)
			}
			return ib
		}
		ib.nodes[i] = n
	}
	return ib
}

// waitStageRoom blocks while the staged backlog has no room for n more
// nodes (a batch larger than the limit waits for an empty backlog).
func (c *Collection) waitStageRoom(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.staged) > 0 && len(c.staged)+n > c.stageLimit {
		c.stageWaits++
		c.stageRoom.Wait()
	}
}

// waitLinked blocks until every staged node is linked. Callers hold the
// write gate exclusively, so no new node is staged meanwhile; snapshots
// and vacuum need a graph with no unlinked node.
func (c *Collection) waitLinked() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.staged) > 0 {
		c.stageEmpty.Wait()
	}
}

// stagedLen returns how many published nodes wait to be linked.
func (c *Collection) stagedLen() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.staged)
}

// lockWrites takes the write gate exclusively and waits for the staged
// backlog to drain.
func (c *Collection) lockWrites() {
	c.writeGate.Lock()
	c.waitLinked()
}

// linkStaged links published staged nodes into the graph in the background
// and then removes them from the staged set.
func (c *Collection) linkStaged(nodes []uint32) {
	hook := c.beforeLink
	go func() {
		if hook != nil {
			hook()
		}
		for _, n := range nodes {
			c.graph.Link(n)
		}
		c.mu.Lock()
		for _, n := range nodes {
			delete(c.staged, n)
			// One waiting writer per freed slot: waking them all for
			// every linked vector costs more than the link itself.
			c.stageRoom.Signal()
		}
		if len(c.staged) == 0 {
			// Whatever its size, every waiting batch fits now.
			c.stageRoom.Broadcast()
			c.stageEmpty.Broadcast()
		}
		c.mu.Unlock()
	}()
}

// stagedIDs returns the nodes staged now (nil if none), for a search to
// scan without holding c.mu.
func (c *Collection) stagedIDs() []uint32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.staged) == 0 {
		return nil
	}
	ids := make([]uint32, 0, len(c.staged))
	for n := range c.staged {
		ids = append(ids, n)
	}
	return ids
}

// withStaged merges the staged nodes accept admits into nb, the graph's
// answer, keeping the k nearest. It scans them as o says (on a quantized
// collection: codes, re-ranking the best o.Rerank with the float32
// vectors, so the distances are exact like the graph's).
func (c *Collection) withStaged(q []float32, k int, nb []hnsw.Neighbor, staged []uint32, accept func(uint32) bool, o hnsw.SearchOptions) ([]hnsw.Neighbor, error) {
	ids := make([]uint32, 0, len(staged))
	for _, n := range staged {
		if accept(n) {
			ids = append(ids, n)
		}
	}
	if len(ids) == 0 {
		return nb, nil
	}
	found, err := c.graph.ExactSearchIDsWith(q, k, ids, o)
	if err != nil {
		return nil, err
	}
	out := append(nb, found...)
	// Ties go to the lower node id, so the order does not depend on the
	// staged set's (map) iteration order, and a node the graph search
	// found too (linked meanwhile) ends up next to its twin.
	slices.SortFunc(out, func(a, b hnsw.Neighbor) int {
		switch {
		case a.Dist < b.Dist:
			return -1
		case a.Dist > b.Dist:
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	out = slices.CompactFunc(out, func(a, b hnsw.Neighbor) bool { return a.ID == b.ID })
	return out[:min(k, len(out))], nil
}
