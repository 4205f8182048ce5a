package engine

import (
	"fmt"
	"math"
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
func (c *Collection) Vacuum() (VacuumStats, error) {
	c.lockWrites()
	defer c.writeGate.Unlock()
	return c.vacuumGated()
}

// vacuumGated is Vacuum for a caller that already holds the write gate.
func (c *Collection) vacuumGated() (VacuumStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	removed := c.graph.Deleted()
	if removed == 0 {
		return VacuumStats{Live: len(c.byID)}, nil
	}
	// Odd while the graph and the slot table change, even again after:
	// searches that overlap any part of it start again (search.go).
	c.renumbering.Add(1)
	defer c.renumbering.Add(1)
	oldToNew, err := c.graph.Vacuum()
	if err != nil {
		return VacuumStats{}, fmt.Errorf("collection %s: vacuum: %w", c.cfg.Name, err)
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
	c.generation++
	return VacuumStats{Removed: removed, Live: len(c.byID)}, nil
}
