package engine

import (
	"fmt"
	"math"

	"github.com/akidb/akidb/engine/vecfile"
)

// VacuumStats reports what a vacuum reclaimed.
type VacuumStats struct {
	Removed int
	Live    int
}

// Vacuum removes tombstoned nodes from the graph, repairs the neighbour
// lists that pointed at them and renumbers nodes densely. It waits for
// in-flight writes and blocks new ones while it runs; searches in progress
// give way and start again after it. Scroll cursors issued before it are
// invalidated.
//
// On a quantized collection it waits for background quantization work to
// finish (the graph cannot be renumbered while it re-encodes); with the
// originals on disk it first writes them, renumbered, to a new vectors
// file.
func (c *Collection) Vacuum() (VacuumStats, error) {
	c.q.jobMu.Lock()
	defer c.q.jobMu.Unlock()
	c.lockWrites()
	defer c.writeGate.Unlock()
	return c.vacuumGated()
}

// vacuumGated is Vacuum for a caller that already holds the write gate and
// the quantization job lock.
func (c *Collection) vacuumGated() (VacuumStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	removed := c.graph.Deleted()
	if removed == 0 {
		return VacuumStats{Live: len(c.byID)}, nil
	}
	// With the originals on disk, their rows move with the nodes: to a new
	// vectors file, written before anything changes (a failure leaves the
	// collection as it was).
	oldFile := c.vectorsFile()
	var moved *vecfile.File
	if oldFile != nil && !c.graph.QuantInfo().Floats {
		gen, err := c.newVectorsGen()
		if err != nil {
			return VacuumStats{}, err
		}
		moved, err = oldFile.Compact(c.graph.PlanVacuum(), gen)
		c.q.mu.Lock()
		delete(c.q.making, gen)
		c.q.mu.Unlock()
		if err != nil {
			return VacuumStats{}, fmt.Errorf("collection %s: vacuum: %w", c.cfg.Name, err)
		}
	}
	// Odd while the graph and the slot table change, even again after:
	// searches that overlap any part of it start again (search.go).
	c.renumbering.Add(1)
	defer c.renumbering.Add(1)
	var (
		oldToNew []uint32
		err      error
	)
	if moved != nil {
		oldToNew, err = c.graph.VacuumOriginals(moved)
	} else {
		oldToNew, err = c.graph.Vacuum()
	}
	if err != nil {
		if moved != nil {
			_ = moved.Close()
		}
		return VacuumStats{}, fmt.Errorf("collection %s: vacuum: %w", c.cfg.Name, err)
	}
	if moved != nil {
		// The old file stays on disk while a kept snapshot names it.
		c.q.mu.Lock()
		c.q.vectors = moved
		c.q.mu.Unlock()
		_ = oldFile.Close()
	}
	old := c.slots.Load()
	slots := slotsFor(c.graph.Len())
	for o, nw := range oldToNew {
		s := old.get(uint32(o))
		if nw == math.MaxUint32 || s == nil {
			continue
		}
		slots.chunks[nw>>slotChunkBits][nw&slotChunkMask].Store(s)
		c.byID[s.id] = nw
	}
	c.slots.Store(slots)
	c.idx.Renumber(oldToNew)
	c.generation++
	return VacuumStats{Removed: removed, Live: len(c.byID)}, nil
}
