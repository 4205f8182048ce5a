package engine

import "sync/atomic"

// A collection's published records, by node: what searches read without
// taking the collection's lock, so that a long scan never holds a lock a
// writer needs.
//
// Writers (holding Collection.mu) store a *slot when a record is published
// and nil when it is deleted or replaced; a slot is never changed once
// stored, so a reader that loaded one may use it after it is unpublished.
// The table grows in chunks of 256 nodes; growth copies the small chunk
// list and swaps it atomically, so readers never see a torn table. Node ids
// change only in Vacuum, which installs a new table and then bumps the
// collection's generation; readers check the generation to see whether the
// node ids they hold are still those of the table they read.

// slot is one published record: its id and its metadata as canonical
// compact JSON ("" for none; metadata.go).
type slot struct {
	id   string
	meta string
}

// metaBytes is the metadata's size, for the memory figure.
func (s *slot) metaBytes() int64 { return int64(len(s.meta)) }

const (
	slotChunkBits = 8
	slotChunkSize = 1 << slotChunkBits
	slotChunkMask = slotChunkSize - 1
)

type slotChunk [slotChunkSize]atomic.Pointer[slot]

// slotTable is an immutable list of chunks; the chunks' entries change.
type slotTable struct {
	chunks []*slotChunk
}

// get returns node n's record, or nil if it is not published.
func (t *slotTable) get(n uint32) *slot {
	ci := int(n >> slotChunkBits)
	if ci >= len(t.chunks) {
		return nil
	}
	return t.chunks[ci][n&slotChunkMask].Load()
}

// nodes is how many node ids the table has room for.
func (t *slotTable) nodes() int { return len(t.chunks) << slotChunkBits }

// slotsFor returns a table with room for n nodes.
func slotsFor(n int) *slotTable {
	t := &slotTable{chunks: make([]*slotChunk, (n+slotChunkSize-1)/slotChunkSize)}
	for i := range t.chunks {
		t.chunks[i] = new(slotChunk)
	}
	return t
}

// setSlot publishes s at node n (nil unpublishes), growing the table if
// needed; c.mu must be held for writing.
func (c *Collection) setSlot(n uint32, s *slot) {
	t := c.slots.Load()
	if int(n) >= t.nodes() {
		grown := &slotTable{chunks: append([]*slotChunk(nil), t.chunks...)}
		for int(n) >= grown.nodes() {
			grown.chunks = append(grown.chunks, new(slotChunk))
		}
		c.slots.Store(grown)
		t = grown
	}
	t.chunks[n>>slotChunkBits][n&slotChunkMask].Store(s)
}

// slot returns node n's record, or nil if it is not published.
func (c *Collection) slot(n uint32) *slot { return c.slots.Load().get(n) }

// snapshot copies the records of nodes 0..n-1 as they are now: a slot
// never changes once stored, so the copy stays what it was whatever is
// published or unpublished later.
func (t *slotTable) snapshot(n int) []*slot {
	out := make([]*slot, n)
	for i := range out {
		out[i] = t.get(uint32(i))
	}
	return out
}
