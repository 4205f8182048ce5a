package engine

import (
	"context"
	"encoding/json"
)

// NewCollectionDiskBytes is the disk a new, empty collection takes: its
// log's first segment (wal.DefaultInitialSegmentSize).
const NewCollectionDiskBytes = 64 << 10

// WriteCost is what an upsert would add to a collection's usage, for quota
// checks before anything is written.
type WriteCost struct {
	// NewRecords is how many of the ids the collection does not hold yet
	// (an id repeated in the batch counts once): the growth of Stats.Count.
	NewRecords int64
	// MemoryBytes is the growth of Stats.MemoryBytes. Every record adds a
	// node (vector and links), a replacement too: the node it replaces
	// stays, tombstoned, until a vacuum. A new id adds its bytes, its
	// per-record overhead and its metadata; a replacement adds its
	// metadata less the metadata it replaces (which may be negative).
	MemoryBytes int64
	// DiskBytes is the growth of the log's files: 0 while the record fits
	// in the space its active segment has allocated, else the growth of
	// the segment (it doubles) or the next segment (wal.Log.GrowthFor);
	// plus, with the originals on disk, the vectors file's new rows.
	DiskBytes int64
}

// UpsertCost returns what upserting recs would add, as Stats counts it.
// It reads the collection without changing it; recs need not be valid
// (the write validates them). Like the write, it loads an evicted
// collection first; one that cannot be loaded costs nothing (the write
// fails the same way).
func (h *Handle) UpsertCost(recs []Record) WriteCost {
	if err := h.pin(context.Background()); err != nil {
		return WriteCost{}
	}
	defer h.unpin()
	c := h.c
	dim := int64(c.cfg.Dimension)
	metaSize := make([]int64, len(recs))
	payload := int64(8) // the record's encoding (engine/record)
	for i, r := range recs {
		switch {
		case r.MetadataJSON != nil:
			metaSize[i] = int64(len(r.MetadataJSON))
		case len(r.Metadata) > 0:
			if raw, err := json.Marshal(r.Metadata); err == nil {
				metaSize[i] = int64(len(raw))
			}
		}
		payload += 2 + int64(len(r.ID)) + 4*dim + 4 + metaSize[i]
	}
	cost := WriteCost{DiskBytes: h.wal.GrowthFor(int(payload))}
	if c.vectorsFile() != nil {
		// Originals on disk: every record adds a row to the vectors file.
		cost.DiskBytes += int64(len(recs)) * 4 * dim
	}
	node := c.graph.NodeBytes()
	last := make(map[string]int, len(recs)) // within a batch the later record wins
	for i, r := range recs {
		last[r.ID] = i
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, r := range recs {
		cost.MemoryBytes += node
		if last[r.ID] != i {
			continue // replaced within the batch: its node is all it leaves
		}
		if n, ok := c.byID[r.ID]; ok {
			cost.MemoryBytes += metaSize[i] - c.slot(n).metaBytes()
			continue
		}
		cost.NewRecords++
		cost.MemoryBytes += int64(len(r.ID)) + recordOverhead + metaSize[i]
	}
	return cost
}
