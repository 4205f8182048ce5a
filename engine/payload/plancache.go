package payload

import (
	"slices"
	"sync"

	"github.com/akidb/akidb/engine/filter"
)

// Plans kept for repeated filters. Planning a range over many values costs
// tens of microseconds at 60,000 records (BenchmarkPlan: about 90 µs for
// half of a 1,000-value integer field, a third of an unfiltered search of
// MNIST), and applications send the same few filters again and again (a
// tenant, a category); while the indexes do not change, the answer is the
// same. Any change to the Set (a write, an index build or drop, a
// vacuum's renumbering) moves its generation and makes every kept plan
// stale, so under a steady stream of writes the cache simply misses.

const (
	// maxCachedPlans is how many filters' plans a Set keeps.
	maxCachedPlans = 16
	// maxCachedBytes bounds the memory of the kept plans (bitmaps and
	// dense bitsets); a plan larger than a quarter of it is not kept.
	maxCachedBytes = 8 << 20
)

// planCache holds the plans of the last filters planned at generation gen,
// the oldest first in order.
type planCache struct {
	mu    sync.Mutex
	gen   uint64
	plans map[string]*Plan
	order []string
	bytes int
}

// SearchPlan is Plan for a search, without the explanation, with the dense
// bitsets filled (SureBits, MaybeBits), and kept for the next search with
// the same filter while the Set does not change. The plan and its bitmaps
// are shared with other callers: they must only be read.
func (s *Set) SearchPlan(f *filter.Filter) *Plan {
	key := f.String()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.plans.get(s.gen, key); p != nil {
		return p
	}
	p := s.plan(f, false)
	p.fillDense()
	s.plans.put(s.gen, key, p)
	return p
}

func (c *planCache) get(gen uint64, key string) *Plan {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil
	}
	return c.plans[key]
}

func (c *planCache) put(gen uint64, key string, p *Plan) {
	size := p.sizeBytes()
	if size > maxCachedBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.plans == nil {
		// Made at a newer generation (an older one is never asked
		// for: the caller holds the Set's read lock, so gen is current).
		c.gen, c.plans, c.order, c.bytes = gen, map[string]*Plan{}, c.order[:0], 0
	}
	if _, ok := c.plans[key]; ok {
		return
	}
	for len(c.order) > 0 && (len(c.order) >= maxCachedPlans || c.bytes+size > maxCachedBytes) {
		old := c.order[0]
		c.order = slices.Delete(c.order, 0, 1)
		c.bytes -= c.plans[old].sizeBytes()
		delete(c.plans, old)
	}
	c.plans[key] = p
	c.order = append(c.order, key)
	c.bytes += size
}

// fillDense sets SureBits and MaybeBits from Sure and Maybe.
func (p *Plan) fillDense() {
	if !p.Narrowed {
		return
	}
	p.SureBits, p.MaybeBits = p.Sure.ToDense(), p.Maybe.ToDense()
}

// sizeBytes is about what p holds in memory.
func (p *Plan) sizeBytes() int {
	n := 8 * (len(p.SureBits) + len(p.MaybeBits))
	if p.Narrowed {
		n += int(p.Sure.GetSizeInBytes() + p.Maybe.GetSizeInBytes())
	}
	return n + 256
}
