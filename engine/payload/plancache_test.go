package payload

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// SearchPlan keeps a filter's plan while the Set does not change and plans
// afresh after any change (a write, a delete, an index dropped or made
// ready); every plan it returns, kept or fresh, is checked against the
// oracle, with its dense bitsets equal to its bitmaps.
func TestSearchPlanKeptUntilAChange(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	m := &model{}
	for range 200 {
		m.docs = append(m.docs, randDoc(r))
		m.live = append(m.live, r.IntN(10) > 0)
	}
	s := m.build(t, allIndexes)
	pool := make([]map[string]any, 24)
	for i := range pool {
		pool[i] = randFilter(r, 1)
	}
	var kept, changes int
	for step := range 600 {
		changed := true
		switch op := r.IntN(10); {
		case op < 6:
			changed = false
		case op < 9: // write or delete one record
			n := r.IntN(len(m.docs))
			old, wasLive := m.docs[n], m.live[n]
			doc, live := randDoc(r), r.IntN(4) > 0
			s.Update(func(tx Tx) {
				if wasLive {
					tx.Unpublish(uint32(n), old)
				}
				if live {
					tx.Publish(uint32(n), doc)
				}
			})
			m.docs[n], m.live[n] = doc, live
		default: // drop an index, or bring it back
			field := []string{"k", "i", "f", "n.x"}[r.IntN(4)]
			if _, _, ok := s.Has(field); ok {
				s.Drop(field)
			} else {
				if err := s.Declare(field, allIndexes[field]); err != nil {
					t.Fatal(err)
				}
				s.Fill(field, func(add func(uint32, []byte)) {
					for n, d := range m.docs {
						if m.live[n] {
							add(uint32(n), d)
						}
					}
				})
				s.MarkReady(field)
			}
		}
		if changed {
			changes++
		}
		f := parse(t, pool[r.IntN(len(pool))])
		before := s.plans.get(s.gen, f.String())
		p := s.SearchPlan(f)
		if changed && before != nil {
			t.Fatalf("step %d: a plan was still kept after a change", step)
		}
		if before != nil {
			kept++
			if p != before {
				t.Fatalf("step %d: a kept plan was not used", step)
			}
		}
		checkPlan(t, m, f, p)
		if p.Narrowed {
			for _, c := range []struct {
				b     *roaring.Bitmap
				dense []uint64
			}{{p.Sure, p.SureBits}, {p.Maybe, p.MaybeBits}} {
				if !slices.Equal(c.b.ToDense(), c.dense) {
					t.Fatalf("step %d: %s: dense bitset differs from its bitmap", step, f)
				}
			}
		}
		if again := s.SearchPlan(f); again != p {
			t.Fatalf("step %d: %s planned again with no change in between", step, f)
		}
		if n := len(s.plans.plans); n > maxCachedPlans || len(s.plans.order) != n {
			t.Fatalf("step %d: %d plans kept (order %d), at most %d", step, n, len(s.plans.order), maxCachedPlans)
		}
	}
	t.Logf("600 searches, %d after a change, %d answered from a kept plan", changes, kept)
	if kept == 0 {
		t.Fatal("no plan was ever kept")
	}
}

// Searches planning (and sharing kept plans) while writers change the Set:
// run under -race (make test does) this checks the locking; each plan is
// still one the filter could have had at some moment, so every node of
// Sure is a node some write made live.
func TestSearchPlanWhileWriting(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	m := &model{}
	for range 300 {
		m.docs = append(m.docs, randDoc(r))
		m.live = append(m.live, true)
	}
	s := m.build(t, allIndexes)
	filters := []string{`{"i":{"$gte":2}}`, `{"k":"a"}`, `{"$not":{"f":{"$lt":1}}}`}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wr := rand.New(rand.NewPCG(1, 2))
		for range 500 {
			n := uint32(wr.IntN(300))
			doc := []byte(`{"i":` + string(rune('0'+wr.IntN(10))) + `,"k":"a"}`)
			s.Update(func(tx Tx) { tx.Publish(n, doc) })
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
		}
		p := s.SearchPlan(parseString(t, filters[i%len(filters)]))
		if p.Narrowed && p.Sure.GetCardinality() > 0 && p.Sure.Maximum() >= 300 {
			t.Fatalf("plan holds node %d, never written", p.Sure.Maximum())
		}
	}
}
