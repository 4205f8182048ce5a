package engine

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/akidb/akidb/engine/filter"
)

// Get returns a copy of the record with the given id.
func (c *Collection) Get(id string) (Record, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	node, ok := c.byID[id]
	if !ok {
		return Record{}, fmt.Errorf("record %q: %w", id, ErrNotFound)
	}
	return c.recordLocked(node, true), nil
}

// recordLocked copies a published node out. Metadata maps are never
// mutated after publication, so sharing them is safe.
func (c *Collection) recordLocked(node uint32, withVector bool) Record {
	r := Record{ID: c.extID[node], Metadata: c.meta[node]}
	if withVector {
		r.Vector = append([]float32(nil), c.graph.Vector(node)...)
	}
	return r
}

// ScrollPage is one page of a scroll.
type ScrollPage struct {
	Records []Record
	// NextCursor is empty when the scroll is complete.
	NextCursor string
}

// Scroll pages through live records in insertion order. An empty cursor
// starts at the beginning. A record upserted again during a scroll moves to
// the end and may be seen twice; a vacuum in between invalidates cursors
// (ErrInvalidArgument), and the scroll must start again.
func (c *Collection) Scroll(cursor string, limit int, withVectors bool) (ScrollPage, error) {
	if limit < 1 || limit > MaxK {
		return ScrollPage{}, invalid("limit", "must be between 1 and %d, got %d", MaxK, limit)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	start := uint32(0)
	if cursor != "" {
		gen, node, err := decodeCursor(cursor)
		if err != nil {
			return ScrollPage{}, err
		}
		if gen != c.generation {
			return ScrollPage{}, invalid("cursor", "cursor expired because the collection was compacted; start the scroll again")
		}
		start = node
	}
	page := ScrollPage{Records: make([]Record, 0, min(limit, len(c.byID)))}
	node := start
	for ; int(node) < len(c.extID); node++ {
		if c.extID[node] == "" {
			continue
		}
		if len(page.Records) == limit {
			page.NextCursor = encodeCursor(c.generation, node)
			break
		}
		page.Records = append(page.Records, c.recordLocked(node, withVectors))
	}
	return page, nil
}

// A cursor is base64url(generation uint32 | next node uint32), opaque to callers.
func encodeCursor(gen, node uint32) string {
	var b [8]byte
	binary.BigEndian.PutUint32(b[0:4], gen)
	binary.BigEndian.PutUint32(b[4:8], node)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeCursor(s string) (gen, node uint32, err error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, 0, invalid("cursor", "not a cursor returned by a previous scroll")
	}
	return binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8]), nil
}

// MatchingIDs returns the ids of the live records that f matches.
func (c *Collection) MatchingIDs(f *filter.Filter) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var ids []string
	for n, id := range c.extID {
		if id != "" && f.Match(c.meta[n]) {
			ids = append(ids, id)
		}
	}
	return ids
}
