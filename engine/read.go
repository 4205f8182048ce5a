package engine

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/akidb/akidb/engine/filter"
	"github.com/akidb/akidb/engine/hnsw"
)

// Get returns a copy of the record with the given id.
func (c *Collection) Get(id string) (Record, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	node, ok := c.byID[id]
	if !ok {
		return Record{}, fmt.Errorf("record %q: %w", id, ErrNotFound)
	}
	return c.record(node, c.slot(node), true)
}

// record copies published record s, at node, out. Metadata maps are never
// mutated after publication, so sharing them is safe. The vector is read
// from the vectors file when the originals are on disk, which can fail.
func (c *Collection) record(node uint32, s *slot, withVector bool) (Record, error) {
	r := Record{ID: s.id, Metadata: decodeMetadata(s.meta)}
	if withVector {
		v, err := c.graph.ReadVector(nil, node)
		if err != nil {
			return Record{}, fmt.Errorf("collection %s: record %q: %w", c.cfg.Name, s.id, err)
		}
		r.Vector = v
	}
	return r, nil
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
	tab := c.slots.Load()
	for node := start; int(node) < tab.nodes(); node++ {
		s := tab.get(node)
		if s == nil {
			continue
		}
		if len(page.Records) == limit {
			page.NextCursor = encodeCursor(c.generation, node)
			break
		}
		r, err := c.record(node, s, withVectors)
		if err != nil {
			return ScrollPage{}, err
		}
		page.Records = append(page.Records, r)
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

// MatchingIDs returns the ids of the live records that f matches, as the
// collection was when each was looked at (it takes no lock writers need).
// It checks ctx every StopEvery records and returns ctx's error once it is
// done.
func (c *Collection) MatchingIDs(ctx context.Context, f *filter.Filter) ([]string, error) {
	tab := c.slots.Load()
	var ids []string
	for n := 0; n < tab.nodes(); n++ {
		if n%hnsw.StopEvery == 0 {
			if err := expired(ctx); err != nil {
				return nil, err
			}
		}
		if s := tab.get(uint32(n)); s != nil && f.MatchJSONString(s.meta) {
			ids = append(ids, s.id)
		}
	}
	return ids, nil
}
