package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/akidb/akidb/engine/distance"
)

// ErrViewExpired is returned while reading a RecordView whose collection
// was vacuumed after the view was taken: vacuum renumbers the nodes the
// view points at. Take a new view and start again.
var ErrViewExpired = errors.New("record view expired: the collection was compacted (vacuumed) while it was being read; take a new view")

// ViewInfo says what a RecordView holds.
type ViewInfo struct {
	Tenant    string // "" for a collection outside a DB
	Name      string
	Dimension int
	Metric    distance.Metric
	// Seq is the applied sequence number the view is at: it holds every
	// write up to and including Seq and none after.
	Seq   uint64
	Count int // live records
}

// RecordView is a collection's live records as they were at one sequence
// number, to be read (exported) while the collection goes on changing.
// Taking one pauses writes only while the node-to-record table is copied
// (8 bytes a node, no vectors). Vectors are read from
// the index as the view is iterated: a node's vector never changes once
// written (replacing a record writes a new node, deleting one only marks
// it), so what the view reads is what was there at Seq. Only Vacuum moves
// vectors; a view that meets one stops with ErrViewExpired.
//
// A RecordView holds no lock between reads and is safe for use by one
// goroutine at a time.
type RecordView struct {
	c          *Collection
	info       ViewInfo
	generation uint32
	slots      []*slot // node -> its record at Seq (nil for none)
}

// viewBatch is how many nodes Records reads per hold of the collection's
// read lock: long enough to amortise the lock, short enough that writers
// publishing meanwhile wait microseconds.
const viewBatch = 256

// View returns the collection's live records at its current applied
// sequence number. It waits for in-flight writes to publish and holds new
// ones off while it copies the id table.
func (c *Collection) View() *RecordView {
	c.writeGate.Lock()
	defer c.writeGate.Unlock()
	return c.viewGated()
}

// viewGated is View for a caller that already holds the write gate
// exclusively (a checkpoint, so that its view and its snapshot are at the
// same sequence number).
func (c *Collection) viewGated() *RecordView {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := c.graph.Len()
	v := &RecordView{
		c: c,
		info: ViewInfo{
			Name: c.cfg.Name, Dimension: c.cfg.Dimension, Metric: c.cfg.Metric,
			Seq: c.applied, Count: len(c.byID),
		},
		generation: c.generation,
		slots:      c.slots.Load().snapshot(n),
	}
	return v
}

// View returns the collection's live records at its current applied
// sequence number, labelled with the collection's tenant and name.
func (h *Handle) View() (*RecordView, error) {
	if h.closed.Load() {
		return nil, fmt.Errorf("collection %s: %w", h.info.Name, ErrClosed)
	}
	if err := h.pin(context.Background()); err != nil {
		return nil, err
	}
	defer h.unpin()
	return h.label(h.c.View()), nil
}

// label names the view by the handle's tenant and collection; a
// checkpoint labels its viewGated view the same way.
func (h *Handle) label(v *RecordView) *RecordView {
	v.info.Tenant, v.info.Name = h.info.TenantID, h.info.Name
	return v
}

// Info describes the view.
func (v *RecordView) Info() ViewInfo { return v.info }

// Records yields the view's records in insertion order (the order of
// Scroll), Info().Count of them, then stops. Each record owns its vector
// (normalised, for a cosine collection, as it is stored); metadata maps
// are shared with the collection and must not be modified. If the
// collection was vacuumed since the view was taken it yields
// ErrViewExpired as its last element. Each is the same without a vector
// allocation per record.
func (v *RecordView) Records() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		stopped := errors.New("stopped")
		err := v.each(func(r Record) error {
			if !yield(r, nil) {
				return stopped
			}
			return nil
		}, false)
		if err != nil && err != stopped {
			yield(Record{}, err)
		}
	}
}

// Each calls fn for every record of the view in insertion order, as
// Records yields them, and returns fn's first error or ErrViewExpired
// (wrapped). The record's Vector is only valid during the call: the view
// reuses one buffer, so a caller that keeps a vector copies it. This is
// what lets an export read a large collection without making garbage in
// proportion to its size.
func (v *RecordView) Each(fn func(Record) error) error { return v.each(fn, true) }

func (v *RecordView) each(fn func(Record) error, reuse bool) error {
	batch := make([]Record, 0, viewBatch)
	var arena []float32
	if reuse {
		arena = make([]float32, viewBatch*v.info.Dimension)
	}
	for start := 0; start < len(v.slots); start += viewBatch {
		end := min(start+viewBatch, len(v.slots))
		if !reuse {
			// One allocation per batch, which its records keep.
			live := 0
			for _, s := range v.slots[start:end] {
				if s != nil {
					live++
				}
			}
			arena = make([]float32, live*v.info.Dimension)
		}
		var err error
		batch, err = v.readBatch(batch[:0], arena, start, end)
		if err != nil {
			return err
		}
		for _, r := range batch {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// readBatch copies the live records of nodes [from, to) out of the index,
// their vectors into arena (which has room for them).
func (v *RecordView) readBatch(dst []Record, arena []float32, from, to int) ([]Record, error) {
	dim := v.info.Dimension
	c := v.c
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.generation != v.generation {
		return dst, fmt.Errorf("collection %s: %w", v.info.Name, ErrViewExpired)
	}
	for n := from; n < to; n++ {
		s := v.slots[n]
		if s == nil {
			continue
		}
		id := s.id
		src := c.graph.Vector(uint32(n))
		if len(src) != dim {
			return dst, fmt.Errorf("collection %s: record %q (node %d) has no vector in the index", v.info.Name, id, n)
		}
		vec := arena[:dim:dim]
		arena = arena[dim:]
		copy(vec, src)
		dst = append(dst, Record{ID: id, Vector: vec, Metadata: decodeMetadata(s.meta)})
	}
	return dst, nil
}
