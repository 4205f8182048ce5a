package payload

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/RoaringBitmap/roaring/v2"
)

// Errors callers branch on.
var (
	ErrExists   = errors.New("index already exists")
	ErrNotFound = errors.New("index not found")
	ErrInvalid  = errors.New("invalid index")
)

// Set is a collection's payload indexes and its live nodes. It is safe for
// concurrent use.
type Set struct {
	mu      sync.RWMutex
	live    *roaring.Bitmap
	indexes map[string]*Index
	// gen counts the changes under mu: a cached plan (plancache.go) is
	// good while gen has not moved since it was made.
	gen   uint64
	plans planCache
}

// NewSet returns a Set with no index and no live node.
func NewSet() *Set { return NewSetWithLive(roaring.New()) }

// NewSetWithLive returns a Set with no index whose live nodes are live
// (which it keeps).
func NewSetWithLive(live *roaring.Bitmap) *Set {
	return &Set{live: live, indexes: map[string]*Index{}}
}

// ValidateField checks an indexed field name: what a filter can address
// (1..MaxFieldBytes bytes of UTF-8, dot-separated non-empty steps, none
// starting with "$").
func ValidateField(field string) error {
	switch {
	case field == "":
		return fmt.Errorf("%w: the field name is empty", ErrInvalid)
	case len(field) > MaxFieldBytes:
		return fmt.Errorf("%w: the field name is %d bytes, the limit is %d", ErrInvalid, len(field), MaxFieldBytes)
	case !utf8.ValidString(field):
		return fmt.Errorf("%w: the field name is not valid UTF-8", ErrInvalid)
	}
	for _, seg := range strings.Split(field, ".") {
		if seg == "" {
			return fmt.Errorf("%w: field name %q has an empty step (dots separate the steps of a nested field)", ErrInvalid, field)
		}
		if strings.HasPrefix(seg, "$") {
			return fmt.Errorf("%w: field name %q has a step starting with \"$\"", ErrInvalid, field)
		}
	}
	return nil
}

// Tx changes a Set under its lock (see Update).
type Tx struct{ s *Set }

// Publish records that node holds a live record with metadata doc (JSON
// object text, empty for none) and indexes it in every index.
func (tx Tx) Publish(node uint32, doc []byte) {
	tx.s.live.Add(node)
	for _, ix := range tx.s.indexes {
		ix.add(node, doc)
	}
}

// Unpublish removes node, whose metadata was doc, from the live set and
// every index.
func (tx Tx) Unpublish(node uint32, doc []byte) {
	tx.s.live.Remove(node)
	for _, ix := range tx.s.indexes {
		ix.remove(node, doc)
	}
}

// Update runs fn with the Set locked, so that a batch of changes takes the
// lock once and planners see all of it or none.
func (s *Set) Update(fn func(tx Tx)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	fn(Tx{s})
}

// Declare adds an empty index in state Building: from now on Publish and
// Unpublish keep it up to date, and Fill adds the records that existed
// before; MarkReady then lets the planner use it.
func (s *Set) Declare(field string, t Type) error {
	if err := ValidateField(field); err != nil {
		return err
	}
	if !t.Valid() {
		return fmt.Errorf("%w: unknown type %d", ErrInvalid, t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if ix, ok := s.indexes[field]; ok {
		return fmt.Errorf("%w: field %q already has a %s index", ErrExists, field, ix.typ)
	}
	if len(s.indexes) >= MaxIndexes {
		return fmt.Errorf("%w: a collection has at most %d indexes", ErrInvalid, MaxIndexes)
	}
	s.indexes[field] = newIndex(field, t, Building)
	return nil
}

// Fill runs fill with the Set locked, handing it a function that indexes
// one existing record in field's index (adding a record twice is
// harmless). It reports false if the index no longer exists (dropped).
// The caller guarantees that every node it adds is live for the whole
// call, for example by holding off writers.
func (s *Set) Fill(field string, fill func(add func(node uint32, doc []byte))) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	ix, ok := s.indexes[field]
	if !ok {
		return false
	}
	fill(ix.add)
	return true
}

// MarkReady makes a built index available to the planner.
func (s *Set) MarkReady(field string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	ix, ok := s.indexes[field]
	if ok {
		ix.state = Ready
	}
	return ok
}

// Drop removes field's index.
func (s *Set) Drop(field string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	_, ok := s.indexes[field]
	delete(s.indexes, field)
	return ok
}

// Has reports field's index type and state.
func (s *Set) Has(field string) (Type, State, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix, ok := s.indexes[field]
	if !ok {
		return 0, 0, false
	}
	return ix.typ, ix.state, true
}

// Infos describes every index, by field name.
func (s *Set) Infos() []Info {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Info, 0, len(s.indexes))
	for _, ix := range s.indexes {
		out = append(out, ix.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// MemoryBytes is what the Set's bitmaps and trees take.
func (s *Set) MemoryBytes() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := int64(s.live.GetSizeInBytes())
	for _, ix := range s.indexes {
		n += ix.info().MemoryBytes
	}
	return n
}

// LiveCount is the number of live nodes.
func (s *Set) LiveCount() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.live.GetCardinality()
}

// Renumber moves every node n to oldToNew[n] after a vacuum compacted the
// node ids; nodes mapped to noNode, or past the end of oldToNew, are gone.
func (s *Set) Renumber(oldToNew []uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	var ids []uint32
	remap := func(b *roaring.Bitmap) *roaring.Bitmap {
		ids = ids[:0]
		b.Iterate(func(x uint32) bool {
			if int(x) < len(oldToNew) && oldToNew[x] != NoNode {
				ids = append(ids, oldToNew[x])
			}
			return true
		})
		if !slices.IsSorted(ids) {
			slices.Sort(ids)
		}
		out := roaring.New()
		out.AddMany(ids)
		return out
	}
	s.live = remap(s.live)
	for _, ix := range s.indexes {
		ix.present = remap(ix.present)
		ix.other = remap(ix.other)
		if ix.typ == Keyword {
			ix.bools = [2]*roaring.Bitmap{remap(ix.bools[0]), remap(ix.bools[1])}
			ix.strs = remapTree(ix.strs, remap)
		} else {
			ix.nums = remapTree(ix.nums, remap)
			ix.deriveValued()
		}
	}
}

// NoNode marks a node that a vacuum removed, in Renumber's mapping.
const NoNode = ^uint32(0)

func remapTree[K string | float64](t valueTree[K], remap func(*roaring.Bitmap) *roaring.Bitmap) valueTree[K] {
	out := newValueTree[K]()
	t.each(func(k K, b *roaring.Bitmap) bool {
		if nb := remap(b); !nb.IsEmpty() {
			out.t.ReplaceOrInsert(entry[K]{key: k, nodes: nb})
		}
		return true
	})
	return out
}

// Rebuilt returns a Set with the same ready indexes as s, built from
// scratch from records (node, metadata doc), for checking s (Equal).
func (s *Set) Rebuilt(records func(yield func(node uint32, doc []byte) bool)) *Set {
	s.mu.RLock()
	out := NewSet()
	for f, ix := range s.indexes {
		if ix.state == Ready {
			out.indexes[f] = newIndex(f, ix.typ, Ready)
		}
	}
	s.mu.RUnlock()
	for n, doc := range records {
		out.live.Add(n)
		for _, ix := range out.indexes {
			ix.add(n, doc)
		}
	}
	return out
}

// Equal reports how s and o differ in their live nodes and ready indexes,
// or nil if they hold the same.
func (s *Set) Equal(o *Set) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o.mu.RLock()
	defer o.mu.RUnlock()
	if !s.live.Equals(o.live) {
		return fmt.Errorf("live nodes differ: %d vs %d", s.live.GetCardinality(), o.live.GetCardinality())
	}
	ready := func(set *Set) map[string]*Index {
		m := map[string]*Index{}
		for f, ix := range set.indexes {
			if ix.state == Ready {
				m[f] = ix
			}
		}
		return m
	}
	a, b := ready(s), ready(o)
	if len(a) != len(b) {
		return fmt.Errorf("%d vs %d ready indexes", len(a), len(b))
	}
	for f, x := range a {
		y, ok := b[f]
		if !ok || x.typ != y.typ {
			return fmt.Errorf("index on %q: missing or of another type", f)
		}
		var bx, by []*roaring.Bitmap
		x.bitmaps(func(b *roaring.Bitmap) { bx = append(bx, b) })
		y.bitmaps(func(b *roaring.Bitmap) { by = append(by, b) })
		if len(bx) != len(by) {
			return fmt.Errorf("index on %q: %d vs %d distinct values", f, x.info().Values, y.info().Values)
		}
		for i := range bx {
			if !bx[i].Equals(by[i]) {
				return fmt.Errorf("index on %q: bitmap %d differs (%d vs %d nodes)", f, i, bx[i].GetCardinality(), by[i].GetCardinality())
			}
		}
		for n := range max(len(x.col), len(y.col)) {
			if a, b := x.colValue(uint32(n)), y.colValue(uint32(n)); a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
				return fmt.Errorf("index on %q: node %d's value is %v in one and %v in the other", f, n, a, b)
			}
		}
	}
	return nil
}
