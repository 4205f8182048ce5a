package hnsw

import (
	"errors"
	"testing"
)

// twoHopRecall is meanRecall for SearchTwoHop.
func twoHopRecall(t *testing.T, g *Graph, data, queries [][]float32, k, ef int, allow func(uint32) bool) float64 {
	t.Helper()
	m := g.Config().Metric
	keep := func(id uint32) bool { return !g.IsDeleted(id) && allow(id) }
	total := 0.0
	for _, q := range queries {
		got, err := g.SearchTwoHop(q, k, ef, allow, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range got {
			if !keep(n.ID) {
				t.Fatalf("SearchTwoHop returned id %d that is deleted or not allowed", n.ID)
			}
			if i > 0 && got[i-1].Dist > n.Dist {
				t.Fatalf("results not ascending: %v", got)
			}
		}
		want := bruteForce(m, data, q, k, keep)
		if len(got) < len(want) {
			t.Fatalf("%d results, %d allowed nearest exist", len(got), len(want))
		}
		total += recallOf(got, want)
	}
	return total / float64(len(queries))
}

func TestSearchTwoHop(t *testing.T) {
	g, data := l2Graph(t)
	queries := clustered(22, 100, 32, 40)
	for _, sel := range []struct {
		name string
		mod  uint64
	}{{"50%", 2}, {"20%", 5}, {"10%", 10}} {
		t.Run(sel.name, func(t *testing.T) {
			allow := func(id uint32) bool { return splitmix64(uint64(id))%sel.mod == 0 }
			r := twoHopRecall(t, g, data, queries, 10, 64, allow)
			t.Logf("selectivity %s: recall@10 %.4f", sel.name, r)
			if r < 0.95 {
				t.Fatalf("two-hop recall %.4f < 0.95", r)
			}
		})
	}
	// Allowed nodes in one region of the space (a correlated filter): the
	// search must cross the region without admitted nodes to reach them.
	t.Run("correlated", func(t *testing.T) {
		centre := data[0]
		near := make(map[uint32]bool)
		for _, n := range g.ExactSearch(centre, len(data)/10, nil) {
			near[n.ID] = true
		}
		allow := func(id uint32) bool { return near[id] }
		r := twoHopRecall(t, g, data, queries[:30], 10, 64, allow)
		t.Logf("correlated 10%%: recall@10 %.4f", r)
		if r < 0.9 {
			t.Fatalf("correlated two-hop recall %.4f < 0.9", r)
		}
	})
	// With 5% admitted (about 6 nodes in each of the 40 clusters) the
	// admitted nodes near some queries are not connected within two hops:
	// the search then returns fewer than k, which callers answer with an
	// exact scan. What it returns is still admitted and in order.
	t.Run("sparse", func(t *testing.T) {
		allow := func(id uint32) bool { return splitmix64(uint64(id))%20 == 0 }
		short := 0
		for _, q := range queries {
			got, err := g.SearchTwoHop(q, 10, 64, allow, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range got {
				if !allow(n.ID) || i > 0 && got[i-1].Dist > n.Dist {
					t.Fatalf("bad result %v", got)
				}
			}
			if len(got) < 10 {
				short++
			}
		}
		t.Logf("5%% admitted: %d of %d queries found fewer than 10", short, len(queries))
	})
	t.Run("nothing allowed", func(t *testing.T) {
		got, err := g.SearchTwoHop(queries[0], 10, 64, func(uint32) bool { return false }, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v %v", got, err)
		}
	})
	t.Run("no filter", func(t *testing.T) {
		if got, err := g.SearchTwoHop(queries[0], 10, 64, nil, nil); got != nil || err != nil {
			t.Fatalf("got %v %v", got, err)
		}
	})
	t.Run("stop", func(t *testing.T) {
		calls := 0
		_, err := g.SearchTwoHop(queries[0], 10, 500, func(uint32) bool { return true }, func() bool { calls++; return true })
		if !errors.Is(err, ErrStopped) || calls != 1 {
			t.Fatalf("err %v after %d calls", err, calls)
		}
	})
}

func TestSearchTwoHopSkipsDeleted(t *testing.T) {
	g, data := l2Graph(t)
	for id := uint32(0); id < uint32(len(data)); id += 3 {
		if err := g.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	allow := func(id uint32) bool { return splitmix64(uint64(id))%5 == 0 }
	r := twoHopRecall(t, g, data, clustered(23, 50, 32, 40), 10, 64, allow)
	t.Logf("20%% allowed, a third deleted: recall@10 %.4f", r)
	if r < 0.95 {
		t.Fatalf("recall %.4f < 0.95", r)
	}
}
