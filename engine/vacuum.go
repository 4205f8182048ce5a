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
// in-flight writes and blocks new ones and searches while it runs. Scroll
// cursors issued before it are invalidated.
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
	oldToNew, err := c.graph.Vacuum()
	if err != nil {
		return VacuumStats{}, fmt.Errorf("collection %s: vacuum: %w", c.cfg.Name, err)
	}
	extID := make([]string, c.graph.Len())
	meta := make([]map[string]any, c.graph.Len())
	for old, nw := range oldToNew {
		if nw == math.MaxUint32 || old >= len(c.extID) || c.extID[old] == "" {
			continue
		}
		extID[nw] = c.extID[old]
		meta[nw] = c.meta[old]
		c.byID[c.extID[old]] = nw
	}
	c.extID, c.meta = extID, meta
	c.generation++
	return VacuumStats{Removed: removed, Live: len(c.byID)}, nil
}
