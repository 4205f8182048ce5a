package payload

import (
	"math"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/akidb/akidb/engine/filter"
)

// Plan is the planner's answer for one filter: the filter matches exactly
// the nodes of Sure and those of Maybe that pass the filter itself.
type Plan struct {
	// Narrowed is false when the indexes could not narrow the filter (some
	// part of it that every record may satisfy has no ready index); Sure
	// and Maybe are then nil and every live node must be tested.
	Narrowed bool
	// Sure holds the nodes that certainly match, Maybe those that may and
	// must be tested with the filter; they are disjoint and the caller's
	// to keep.
	Sure, Maybe *roaring.Bitmap
	// SureBits and MaybeBits are Sure and Maybe as dense bitsets (bit n
	// of word n/64 for node n; nil when empty or not Narrowed), which a
	// graph search tests for each node it meets.
	SureBits, MaybeBits []uint64
	// Live is the number of live nodes when the plan was made.
	Live uint64
	// Indexed and Unindexed name the fields of the filter with and without
	// a ready index, in the order the filter names them.
	Indexed, Unindexed []string
	// Explain is the evaluation tree, when asked for.
	Explain *ExplainNode
}

// Exact reports whether Sure is exactly the matching nodes.
func (p *Plan) Exact() bool { return p.Narrowed && p.Maybe.IsEmpty() }

// ExplainNode shows how one node of the filter was evaluated.
type ExplainNode struct {
	// Filter is the node as a filter of its own.
	Filter string `json:"filter"`
	// Index names the index that answered a field condition ("" for none,
	// and for $and, $or, $not).
	Index string `json:"index,omitempty"`
	// Sure counts the nodes certainly matching; Candidates those possibly
	// matching (Sure included). Candidates is every live node where the
	// indexes could not narrow the node.
	Sure       uint64         `json:"sure"`
	Candidates uint64         `json:"candidates"`
	Children   []*ExplainNode `json:"children,omitempty"`
}

// bits is a set of nodes: all (every live node) or bm. owned says whether
// bm may be handed out; otherwise it belongs to an index.
type bits struct {
	bm    *roaring.Bitmap
	all   bool
	owned bool
}

type pair struct{ sure, cand bits }

type planner struct {
	s       *Set
	explain bool
	seen    map[string]bool
	plan    *Plan
}

// Plan evaluates f with the ready indexes. A nil f, or one that matches
// everything, gives a plan with Sure = every live node. A search that does
// not need the explanation calls SearchPlan, which keeps plans.
func (s *Set) Plan(f *filter.Filter, explain bool) *Plan {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.plan(f, explain)
	p.fillDense()
	return p
}

// plan is Plan without the dense bitsets, with s.mu held.
func (s *Set) plan(f *filter.Filter, explain bool) *Plan {
	p := &planner{s: s, explain: explain, seen: map[string]bool{}, plan: &Plan{Live: s.live.GetCardinality()}}
	root, ok := f.Root()
	var r pair
	var ex *ExplainNode
	if ok {
		r, ex = p.node(root)
	} else {
		r = pair{bits{all: true}, bits{all: true}}
		if explain {
			ex = &ExplainNode{Filter: "{}", Sure: p.plan.Live, Candidates: p.plan.Live}
		}
	}
	p.plan.Explain = ex
	if r.cand.all && !r.sure.all {
		return p.plan
	}
	p.plan.Narrowed = true
	p.plan.Sure = p.own(r.sure)
	if r.cand.all {
		p.plan.Maybe = roaring.New()
	} else {
		p.plan.Maybe = roaring.AndNot(r.cand.bm, p.plan.Sure)
	}
	return p.plan
}

// own returns b as a bitmap the caller may keep.
func (p *planner) own(b bits) *roaring.Bitmap {
	switch {
	case b.all:
		return p.s.live.Clone()
	case b.owned:
		return b.bm
	}
	return b.bm.Clone()
}

func (p *planner) card(b bits) uint64 {
	if b.all {
		return p.plan.Live
	}
	return b.bm.GetCardinality()
}

func (p *planner) explained(n filter.Node, index string, r pair, kids []*ExplainNode) *ExplainNode {
	if !p.explain {
		return nil
	}
	return &ExplainNode{Filter: n.String(), Index: index, Sure: p.card(r.sure), Candidates: p.card(r.cand), Children: kids}
}

var allPair = pair{bits{all: true}, bits{all: true}}

func (p *planner) node(n filter.Node) (pair, *ExplainNode) {
	switch n.Kind() {
	case filter.NodeAll:
		return allPair, p.explained(n, "", allPair, nil)
	case filter.NodeAnd, filter.NodeOr:
		kids := n.Children()
		sures := make([]bits, len(kids))
		cands := make([]bits, len(kids))
		var exs []*ExplainNode
		for i, k := range kids {
			r, ex := p.node(k)
			sures[i], cands[i] = r.sure, r.cand
			if ex != nil {
				exs = append(exs, ex)
			}
		}
		var r pair
		if n.Kind() == filter.NodeAnd {
			r = pair{and(sures), and(cands)}
		} else {
			r = pair{or(sures), or(cands)}
		}
		return r, p.explained(n, "", r, exs)
	case filter.NodeNot:
		k, ex := p.node(n.Children()[0])
		r := pair{p.minusFromAll(k.cand), p.minusFromAll(k.sure)}
		var exs []*ExplainNode
		if ex != nil {
			exs = []*ExplainNode{ex}
		}
		return r, p.explained(n, "", r, exs)
	}
	field := n.Field()
	ix, ok := p.s.indexes[field]
	if !ok || ix.state != Ready {
		p.note(field, false)
		r := pair{bits{bm: roaring.New(), owned: true}, bits{all: true}}
		return r, p.explained(n, "", r, nil)
	}
	p.note(field, true)
	conds := n.Conds()
	sures := make([]bits, 0, len(conds))
	cands := make([]bits, 0, len(conds))
	if merged, rest, ok := ix.mergeRanges(conds); ok {
		sures, cands = append(sures, merged.sure), append(cands, merged.cand)
		conds = rest
	}
	for _, c := range conds {
		r := p.cond(ix, c)
		sures, cands = append(sures, r.sure), append(cands, r.cand)
	}
	r := pair{and(sures), and(cands)}
	return r, p.explained(n, ix.typ.String(), r, nil)
}

func (p *planner) note(field string, indexed bool) {
	if p.seen[field] {
		return
	}
	p.seen[field] = true
	if indexed {
		p.plan.Indexed = append(p.plan.Indexed, field)
	} else {
		p.plan.Unindexed = append(p.plan.Unindexed, field)
	}
}

// cond evaluates one operator on an indexed field.
func (p *planner) cond(ix *Index, c filter.Cond) pair {
	if c.Op == filter.OpExists {
		b := bits{bm: ix.present}
		if !c.Exists {
			b = p.minusFromAll(b)
		}
		return pair{b, b}
	}
	sure, cand := ix.positive(c)
	if c.Negated {
		return pair{p.minusFromAll(cand), p.minusFromAll(sure)}
	}
	return pair{sure, cand}
}

// positive evaluates a positive condition (c's operator, ignoring
// Negated): sure holds the nodes with an indexed value that satisfies it,
// cand adds the nodes whose unindexed values might.
func (ix *Index) positive(c filter.Cond) (sure, cand bits) {
	var parts []*roaring.Bitmap
	otherMay := false
	isRange := c.Op != filter.OpEq && c.Op != filter.OpIn
	if ix.typ == Keyword {
		if isRange {
			for _, s := range c.Strings {
				lo, loIncl, hi, hiIncl := bounds(c.Op, s)
				parts = ix.strs.rangeOf(parts, lo, loIncl, hi, hiIncl)
			}
		} else {
			for _, s := range c.Strings {
				if b := ix.strs.get(s); b != nil {
					parts = append(parts, b)
				}
			}
			for _, v := range c.Bools {
				if v {
					parts = append(parts, ix.bools[1])
				} else {
					parts = append(parts, ix.bools[0])
				}
			}
		}
		otherMay = len(c.Numbers) > 0
	} else {
		if isRange {
			for _, f := range c.Numbers {
				parts = append(parts, ix.numericRange(intervalOf(c.Op, f)))
			}
		} else {
			for _, f := range c.Numbers {
				if b := ix.nums.get(f); b != nil {
					parts = append(parts, b)
				}
			}
		}
		// Non-whole numbers sit outside an integer index.
		otherMay = len(c.Strings) > 0 || len(c.Bools) > 0 || ix.typ == Integer && len(c.Numbers) > 0
	}
	switch len(parts) {
	case 0:
		sure = bits{bm: roaring.New(), owned: true}
	case 1:
		sure = bits{bm: parts[0]}
	default:
		sure = bits{bm: union(parts, ix.present), owned: true}
	}
	cand = sure
	if otherMay && !ix.other.IsEmpty() {
		cand = bits{bm: roaring.Or(sure.bm, ix.other), owned: true}
	}
	return sure, cand
}

// interval is a range of numbers; a nil bound is open.
type interval struct {
	lo, hi         *float64
	loIncl, hiIncl bool
}

// of returns the interval op v holds.
func intervalOf(op filter.Op, v float64) interval {
	lo, loIncl, hi, hiIncl := bounds(op, v)
	return interval{lo: lo, loIncl: loIncl, hi: hi, hiIncl: hiIncl}
}

// intersect returns the values both a and b hold.
func (a interval) intersect(b interval) interval {
	if b.lo != nil && (a.lo == nil || *b.lo > *a.lo || *b.lo == *a.lo && !b.loIncl) {
		a.lo, a.loIncl = b.lo, b.loIncl
	}
	if b.hi != nil && (a.hi == nil || *b.hi < *a.hi || *b.hi == *a.hi && !b.hiIncl) {
		a.hi, a.hiIncl = b.hi, b.hiIncl
	}
	return a
}

// mergeRanges answers the numeric range conditions of one field node
// ($gt 10, $lt 20) with one walk of the values between their bounds
// instead of one per condition and an intersection. That is right only
// while no node holds several values: each condition on an array is
// tested on its own, so [1, 9] satisfies $gt 5 and $lt 3. ok is false when
// there are fewer than two such conditions; rest are the others.
func (ix *Index) mergeRanges(conds []filter.Cond) (merged pair, rest []filter.Cond, ok bool) {
	if ix.typ == Keyword || !ix.multi.IsEmpty() {
		return merged, conds, false
	}
	var iv interval
	n := 0
	for _, c := range conds {
		switch c.Op {
		case filter.OpGT, filter.OpGTE, filter.OpLT, filter.OpLTE:
			if !c.Negated && len(c.Numbers) == 1 && len(c.Strings) == 0 && len(c.Bools) == 0 {
				iv = iv.intersect(intervalOf(c.Op, c.Numbers[0]))
				n++
				continue
			}
		}
		rest = append(rest, c)
	}
	if n < 2 {
		return merged, conds, false
	}
	sure := bits{bm: ix.numericRange(iv), owned: true}
	merged = pair{sure, sure}
	// Non-whole numbers sit outside an integer index and may fall in range.
	if ix.typ == Integer && !ix.other.IsEmpty() {
		merged.cand = bits{bm: roaring.Or(sure.bm, ix.other), owned: true}
	}
	return merged, rest, true
}

// numericRange returns the nodes with a value in iv. While no node has
// several values, a range over many distinct values is a scan of the
// value column (scanColumn), and one that holds most of the values is
// the valued nodes minus those with a value outside it, which has fewer
// bitmaps to unite.
func (ix *Index) numericRange(iv interval) *roaring.Bitmap {
	if iv.lo != nil && iv.hi != nil && (*iv.lo > *iv.hi || *iv.lo == *iv.hi && !(iv.loIncl && iv.hiIncl)) {
		return roaring.New() // empty
	}
	if ix.multi.IsEmpty() && ix.columnPays(iv) {
		return ix.scanColumn(iv)
	}
	inside := ix.nums.rangeOf(nil, iv.lo, iv.loIncl, iv.hi, iv.hiIncl)
	if len(inside) <= ix.nums.len()/2 || !ix.multi.IsEmpty() {
		return union(inside, ix.present)
	}
	var outside []*roaring.Bitmap
	if iv.lo != nil {
		outside = ix.nums.rangeOf(outside, nil, false, iv.lo, !iv.loIncl)
	}
	if iv.hi != nil {
		outside = ix.nums.rangeOf(outside, iv.hi, !iv.hiIncl, nil, false)
	}
	return roaring.AndNot(ix.valued, union(outside, ix.present))
}

// columnPerBitmap: uniting the bitmaps of a range costs about as much per
// bitmap (a few pointers to chase, cache misses when there are
// thousands) as this many nodes of a column scan (a compare each, in
// sequence). Measured with 50,000 nodes and 10,000 distinct values
// (BenchmarkPlan): a range over 5,000 of them took 0.9 ms united and
// about 0.1 ms scanned.
const columnPerBitmap = 64

// columnPays says whether scanning the value column beats uniting the
// bitmaps of iv's values or of the values outside it (the fewer), whose
// number is estimated from where iv falls between the smallest and the
// largest value, without walking the tree.
func (ix *Index) columnPays(iv interval) bool {
	minV, maxV, ok := ix.nums.bounds()
	if !ok || maxV <= minV || len(ix.col) == 0 {
		return false
	}
	lo, hi := minV, maxV
	if iv.lo != nil {
		lo = max(lo, *iv.lo)
	}
	if iv.hi != nil {
		hi = min(hi, *iv.hi)
	}
	share := max(0, hi-lo) / (maxV - minV)
	fewer := float64(ix.nums.len()) * min(share, 1-share)
	return fewer*columnPerBitmap >= float64(len(ix.col))
}

// scanColumn returns the nodes whose single value is in iv (NaN, for no
// value or several, is never in a range). The bounds become a half-open
// [lo, hi) so that each node is two compares and no branch.
func (ix *Index) scanColumn(iv interval) *roaring.Bitmap {
	lo, hi := math.Inf(-1), math.Inf(1)
	if iv.lo != nil {
		lo = *iv.lo
		if !iv.loIncl {
			lo = math.Nextafter(lo, math.Inf(1))
		}
	}
	if iv.hi != nil {
		hi = *iv.hi
		if iv.hiIncl {
			hi = math.Nextafter(hi, math.Inf(1))
		}
	}
	col := ix.col
	words := make([]uint64, (len(col)+63)/64)
	for w := range words {
		chunk := col[w*64 : min(w*64+64, len(col))]
		var bits uint64
		for j, v := range chunk {
			bits |= (b2u(v >= lo) & b2u(v < hi)) << uint(j)
		}
		words[w] = bits
	}
	return roaring.FromDense(words, false)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// denseUnionAt is the number of bitmaps above which union accumulates them
// into a flat bitset instead of merging roaring containers, whose cost
// grows with every bitmap (a range over 100 values of a 60,000-record
// collection: 300 µs merged, about 10 µs flat).
const denseUnionAt = 8

// union returns the union of parts, all inside universe (a new bitmap).
func union(parts []*roaring.Bitmap, universe *roaring.Bitmap) *roaring.Bitmap {
	if len(parts) <= denseUnionAt || universe.IsEmpty() {
		return roaring.FastOr(parts...)
	}
	words := make([]uint64, int(universe.Maximum())/64+1)
	set := func(x uint32) bool {
		words[x>>6] |= 1 << (x & 63)
		return true
	}
	for _, b := range parts {
		b.Iterate(set)
	}
	return roaring.FromDense(words, false)
}

// bounds turns a range operator and its operand into tree bounds.
func bounds[K string | float64](op filter.Op, v K) (lo *K, loIncl bool, hi *K, hiIncl bool) {
	switch op {
	case filter.OpGT:
		return &v, false, nil, false
	case filter.OpGTE:
		return &v, true, nil, false
	case filter.OpLT:
		return nil, false, &v, false
	}
	return nil, false, &v, true
}

func (p *planner) minusFromAll(b bits) bits {
	switch {
	case b.all:
		return bits{bm: roaring.New(), owned: true}
	case b.bm.IsEmpty():
		return bits{all: true}
	}
	return bits{bm: roaring.AndNot(p.s.live, b.bm), owned: true}
}

func and(list []bits) bits {
	var bms []*roaring.Bitmap
	for _, b := range list {
		if !b.all {
			bms = append(bms, b.bm)
		}
	}
	switch len(bms) {
	case 0:
		return bits{all: true}
	case 1:
		for _, b := range list {
			if !b.all {
				return b
			}
		}
	}
	return bits{bm: roaring.FastAnd(bms...), owned: true}
}

func or(list []bits) bits {
	bms := make([]*roaring.Bitmap, 0, len(list))
	for _, b := range list {
		if b.all {
			return bits{all: true}
		}
		bms = append(bms, b.bm)
	}
	if len(bms) == 1 {
		return list[0]
	}
	return bits{bm: roaring.FastOr(bms...), owned: true}
}
