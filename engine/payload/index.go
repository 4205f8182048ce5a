package payload

import (
	"cmp"
	"math"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/google/btree"
)

// btreeDegree suits trees of a few to millions of values: nodes of up to
// 63 entries of 16 to 24 bytes, a few cache lines each.
const btreeDegree = 32

// entry is one distinct value and the nodes holding it.
type entry[K cmp.Ordered] struct {
	key   K
	nodes *roaring.Bitmap
}

// valueTree maps distinct values to bitmaps, in value order.
type valueTree[K cmp.Ordered] struct {
	t *btree.BTreeG[entry[K]]
}

func newValueTree[K cmp.Ordered]() valueTree[K] {
	return valueTree[K]{t: btree.NewG(btreeDegree, func(a, b entry[K]) bool { return a.key < b.key })}
}

// add puts node under key; clone copies a key that aliases memory the tree
// must not keep (a record's metadata).
func (v valueTree[K]) add(key K, node uint32, clone func(K) K) {
	if e, ok := v.t.Get(entry[K]{key: key}); ok {
		e.nodes.Add(node)
		return
	}
	if clone != nil {
		key = clone(key)
	}
	v.t.ReplaceOrInsert(entry[K]{key: key, nodes: roaring.BitmapOf(node)})
}

// remove takes node from key's bitmap, dropping the key when none is left.
func (v valueTree[K]) remove(key K, node uint32) {
	e, ok := v.t.Get(entry[K]{key: key})
	if !ok {
		return
	}
	e.nodes.Remove(node)
	if e.nodes.IsEmpty() {
		v.t.Delete(e)
	}
}

func (v valueTree[K]) get(key K) *roaring.Bitmap {
	if e, ok := v.t.Get(entry[K]{key: key}); ok {
		return e.nodes
	}
	return nil
}

// rangeOf appends the bitmaps of the keys between lo and hi to dst. A nil
// bound is open; incl says whether the bound itself is in the range.
func (v valueTree[K]) rangeOf(dst []*roaring.Bitmap, lo *K, loIncl bool, hi *K, hiIncl bool) []*roaring.Bitmap {
	visit := func(e entry[K]) bool {
		if hi != nil && (e.key > *hi || e.key == *hi && !hiIncl) {
			return false
		}
		if lo != nil && e.key == *lo && !loIncl {
			return true
		}
		dst = append(dst, e.nodes)
		return true
	}
	if lo != nil {
		v.t.AscendGreaterOrEqual(entry[K]{key: *lo}, visit)
	} else {
		v.t.Ascend(visit)
	}
	return dst
}

func (v valueTree[K]) len() int { return v.t.Len() }

// bounds returns the smallest and largest key; ok is false when empty.
func (v valueTree[K]) bounds() (lo, hi K, ok bool) {
	a, ok1 := v.t.Min()
	b, ok2 := v.t.Max()
	return a.key, b.key, ok1 && ok2
}

func (v valueTree[K]) each(fn func(key K, nodes *roaring.Bitmap) bool) {
	v.t.Ascend(func(e entry[K]) bool { return fn(e.key, e.nodes) })
}

// Index is one field's index. It is not safe for concurrent use by itself:
// its Set serialises access.
type Index struct {
	field string
	path  []string
	typ   Type
	state State

	present *roaring.Bitmap
	other   *roaring.Bitmap
	strs    valueTree[string]  // keyword
	bools   [2]*roaring.Bitmap // keyword: false, true
	nums    valueTree[float64] // integer, float
	// valued holds the nodes with at least one value in nums, multi those
	// with more than one: while multi is empty, a range is the valued
	// nodes outside its complement, which is cheaper when the range is
	// the larger part (plan.go). Derived from nums, not stored.
	valued, multi *roaring.Bitmap
	// col is every node's value, by node (NaN: none, or several): a wide
	// range over many distinct values (timestamps, prices) is a scan of
	// it, a compare per node in sequence, instead of a union of thousands
	// of small bitmaps scattered in memory (plan.go). Derived from nums,
	// not stored; 8 bytes per node.
	col []float64

	scratch fieldValues
}

func newIndex(field string, t Type, state State) *Index {
	ix := &Index{
		field: field, path: strings.Split(field, "."), typ: t, state: state,
		present: roaring.New(), other: roaring.New(),
	}
	if t == Keyword {
		ix.strs = newValueTree[string]()
		ix.bools = [2]*roaring.Bitmap{roaring.New(), roaring.New()}
	} else {
		ix.nums = newValueTree[float64]()
		ix.valued, ix.multi = roaring.New(), roaring.New()
	}
	return ix
}

// deriveValued rebuilds valued, multi and col from nums (after decoding or
// renumbering).
func (ix *Index) deriveValued() {
	if ix.typ == Keyword {
		return
	}
	ix.valued, ix.multi = roaring.New(), roaring.New()
	ix.nums.each(func(_ float64, b *roaring.Bitmap) bool {
		ix.multi.Or(roaring.And(ix.valued, b))
		ix.valued.Or(b)
		return true
	})
	ix.col = ix.col[:0]
	ix.nums.each(func(v float64, b *roaring.Bitmap) bool {
		b.Iterate(func(n uint32) bool {
			if !ix.multi.Contains(n) {
				ix.setCol(n, v)
			}
			return true
		})
		return true
	})
}

// setCol records node's single value in the column, growing it with NaN.
func (ix *Index) setCol(node uint32, v float64) {
	for int(node) >= len(ix.col) {
		ix.col = append(ix.col, math.NaN())
	}
	ix.col[node] = v
}

// colValue is node's value in the column, NaN for none or several.
func (ix *Index) colValue(node uint32) float64 {
	if int(node) < len(ix.col) {
		return ix.col[node]
	}
	return math.NaN()
}

// add indexes node's metadata doc.
func (ix *Index) add(node uint32, doc []byte) {
	v := &ix.scratch
	extract(ix.typ, ix.path, doc, v)
	if !v.present {
		return
	}
	ix.present.Add(node)
	if v.other {
		ix.other.Add(node)
	}
	for _, s := range v.strs {
		ix.strs.add(s, node, strings.Clone)
	}
	for b := range 2 {
		if v.bools&(1<<b) != 0 {
			ix.bools[b].Add(node)
		}
	}
	for _, f := range v.nums {
		ix.nums.add(f, node, nil)
	}
	if len(v.nums) > 0 {
		ix.valued.Add(node)
		if distinctFloats(v.nums) > 1 {
			ix.multi.Add(node)
			ix.setCol(node, math.NaN())
		} else {
			ix.setCol(node, v.nums[0])
		}
	}
}

// distinctFloats counts the distinct values of a short list.
func distinctFloats(fs []float64) int {
	n := 0
	for i, f := range fs {
		dup := false
		for _, g := range fs[:i] {
			if g == f {
				dup = true
				break
			}
		}
		if !dup {
			n++
		}
	}
	return n
}

// remove takes node out; doc must be the metadata it was added with.
func (ix *Index) remove(node uint32, doc []byte) {
	v := &ix.scratch
	extract(ix.typ, ix.path, doc, v)
	if !v.present {
		return
	}
	ix.present.Remove(node)
	ix.other.Remove(node)
	for _, s := range v.strs {
		ix.strs.remove(s, node)
	}
	for b := range 2 {
		if v.bools&(1<<b) != 0 {
			ix.bools[b].Remove(node)
		}
	}
	for _, f := range v.nums {
		ix.nums.remove(f, node)
	}
	if len(v.nums) > 0 {
		ix.valued.Remove(node)
		ix.multi.Remove(node)
		if int(node) < len(ix.col) {
			ix.col[node] = math.NaN()
		}
	}
}

// bitmaps calls fn for every bitmap the index holds.
func (ix *Index) bitmaps(fn func(*roaring.Bitmap)) {
	fn(ix.present)
	fn(ix.other)
	if ix.typ == Keyword {
		fn(ix.bools[0])
		fn(ix.bools[1])
		ix.strs.each(func(_ string, b *roaring.Bitmap) bool { fn(b); return true })
	} else {
		fn(ix.valued)
		fn(ix.multi)
		ix.nums.each(func(_ float64, b *roaring.Bitmap) bool { fn(b); return true })
	}
}

func (ix *Index) info() Info {
	in := Info{Field: ix.field, Type: ix.typ, State: ix.state,
		Records: int(ix.present.GetCardinality()), Unindexed: int(ix.other.GetCardinality())}
	if ix.typ == Keyword {
		in.Values = ix.strs.len()
		for _, b := range ix.bools {
			if !b.IsEmpty() {
				in.Values++
			}
		}
	} else {
		in.Values = ix.nums.len()
	}
	ix.bitmaps(func(b *roaring.Bitmap) { in.MemoryBytes += int64(b.GetSizeInBytes()) })
	// B-tree entries: key, bitmap pointer and the tree's slot.
	per := int64(8 + 8 + 8)
	if ix.typ == Keyword {
		per += 16
		ix.strs.each(func(k string, _ *roaring.Bitmap) bool { in.MemoryBytes += int64(len(k)); return true })
	}
	in.MemoryBytes += int64(in.Values)*per + int64(8*cap(ix.col))
	return in
}
