package hnsw

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

func TestFilteredSearch(t *testing.T) {
	g, data := l2Graph(t)
	queries := clustered(22, 100, 32, 40)
	for _, sel := range []struct {
		name string
		mod  uint64
	}{{"50%", 2}, {"10%", 10}, {"1%", 100}} {
		t.Run(sel.name, func(t *testing.T) {
			// A hashed predicate, so allowed ids are spread over the graph
			// rather than clustered by insertion order.
			allow := func(id uint32) bool { return splitmix64(uint64(id))%sel.mod == 0 }
			allowed := 0
			for id := range uint32(len(data)) {
				if allow(id) {
					allowed++
				}
			}
			for _, q := range queries {
				got := g.Search(q, 10, 64, allow)
				if want := min(10, allowed); len(got) != want {
					t.Fatalf("%d results with %d allowed, want %d", len(got), allowed, want)
				}
			}
			r := meanRecall(t, g, data, queries, 10, 64, allow)
			t.Logf("selectivity %s (%d allowed): recall@10 %.4f", sel.name, allowed, r)
			if r < 0.95 {
				t.Fatalf("filtered recall %.4f < 0.95", r)
			}
		})
	}
	t.Run("nothing allowed", func(t *testing.T) {
		if got := g.Search(queries[0], 10, 64, func(uint32) bool { return false }); len(got) != 0 {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("few allowed", func(t *testing.T) {
		allow := func(id uint32) bool { return id == 3 || id == 4000 || id == 4999 }
		got := g.Search(queries[0], 10, 16, allow)
		if len(got) != 3 {
			t.Fatalf("got %v, want the 3 allowed ids", got)
		}
	})
}

func TestDeleteRecall(t *testing.T) {
	g, data := l2Graph(t)
	queries := clustered(32, 200, 32, 40)
	rng := rand.New(rand.NewPCG(33, 0))
	for _, i := range rng.Perm(len(data))[:len(data)*3/10] {
		if err := g.Delete(uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	if g.Deleted() != 1500 || g.Len() != 5000 {
		t.Fatalf("Deleted %d Len %d", g.Deleted(), g.Len())
	}
	r := meanRecall(t, g, data, queries, 10, 64, nil)
	t.Logf("recall@10 after deleting 30%%: %.4f", r)
	if r < 0.95 {
		t.Fatalf("recall after deletes %.4f < 0.95", r)
	}
	// Exact search skips tombstones too.
	for _, q := range queries[:10] {
		for _, n := range g.ExactSearch(q, 20, nil) {
			if g.IsDeleted(n.ID) {
				t.Fatalf("ExactSearch returned deleted %d", n.ID)
			}
		}
	}
	// New nodes still link into a graph with tombstones.
	extra := clustered(34, 300, 32, 40)
	for _, v := range extra {
		if _, err := g.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	all := append(append([][]float32{}, data...), extra...)
	if r := meanRecall(t, g, all, queries, 10, 64, nil); r < 0.95 {
		t.Fatalf("recall after deletes and adds %.4f < 0.95", r)
	}
	checkInvariants(t, g)
}

func TestDeleteErrors(t *testing.T) {
	g := build(t, Config{Dim: 2, Metric: distance.L2}, [][]float32{{0, 0}, {1, 1}})
	if err := g.Delete(2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete(unknown) = %v", err)
	}
	if err := g.Delete(1); err != nil {
		t.Fatal(err)
	}
	if err := g.Delete(1); err != nil {
		t.Fatalf("second Delete = %v, want nil (idempotent)", err)
	}
	if g.Deleted() != 1 || !g.IsDeleted(1) || g.IsDeleted(0) || g.IsDeleted(99) {
		t.Fatalf("Deleted %d IsDeleted(1)=%v", g.Deleted(), g.IsDeleted(1))
	}
	if err := g.Delete(0); err != nil {
		t.Fatal(err)
	}
	if got := g.Search([]float32{0, 0}, 5, 10, nil); len(got) != 0 {
		t.Fatalf("all deleted, Search = %v", got)
	}
	// A graph whose nodes are all deleted still accepts and finds new ones.
	id, err := g.Add([]float32{0.5, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Search([]float32{0, 0}, 5, 10, nil); len(got) != 1 || got[0].ID != id {
		t.Fatalf("Search = %v, want only %d", got, id)
	}
}

func TestVacuum(t *testing.T) {
	g, data := l2Graph(t)
	queries := clustered(42, 200, 32, 40)
	rng := rand.New(rand.NewPCG(43, 0))
	deleted := map[int]bool{}
	for _, i := range rng.Perm(len(data))[:1500] {
		deleted[i] = true
		if err := g.Delete(uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Make sure the entry point is among the deleted, so Vacuum must pick
	// a new one.
	ep, _ := unpackEntry(g.entry.Load())
	deleted[int(ep)] = true
	if err := g.Delete(ep); err != nil {
		t.Fatal(err)
	}

	oldToNew, err := g.Vacuum()
	if err != nil {
		t.Fatal(err)
	}
	if len(oldToNew) != len(data) {
		t.Fatalf("oldToNew has %d entries", len(oldToNew))
	}
	live := make([][]float32, 0, len(data))
	next := uint32(0)
	for old, nw := range oldToNew {
		if deleted[old] {
			if nw != math.MaxUint32 {
				t.Fatalf("deleted %d mapped to %d", old, nw)
			}
			continue
		}
		if nw != next {
			t.Fatalf("old %d -> %d, want %d (dense, order kept)", old, nw, next)
		}
		next++
		live = append(live, data[old])
	}
	if g.Len() != len(live) || g.Deleted() != 0 {
		t.Fatalf("after vacuum Len %d Deleted %d, want %d and 0", g.Len(), g.Deleted(), len(live))
	}
	for i, v := range live {
		got := g.Vector(uint32(i))
		for j := range v {
			if got[j] != v[j] {
				t.Fatalf("vector %d moved wrongly", i)
			}
		}
	}
	checkInvariants(t, g)
	r := meanRecall(t, g, live, queries, 10, 64, nil)
	t.Logf("recall@10 after vacuum: %.4f", r)
	if r < 0.95 {
		t.Fatalf("recall after vacuum %.4f < 0.95", r)
	}
	// Every live node is reachable: an exhaustive filtered search (nothing
	// accepted, so it never stops early) visits them all.
	reach := make([]bool, g.Len())
	g.Search(queries[0], 1, 1, func(id uint32) bool { reach[id] = true; return false })
	for id, ok := range reach {
		if !ok {
			t.Fatalf("node %d unreachable after vacuum", id)
		}
	}
	// The graph keeps working: adds, deletes, a second vacuum.
	for _, v := range clustered(44, 200, 32, 40) {
		if _, err := g.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Delete(0); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Vacuum(); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, g)
}

func TestVacuumEdgeCases(t *testing.T) {
	data := clustered(51, 600, 8, 4)
	g := build(t, Config{Dim: 8, Metric: distance.L2, M: 4, EfConstruction: 32}, data)
	// Nothing deleted: identity, nothing moves.
	m, err := g.Vacuum()
	if err != nil || len(m) != 600 || m[599] != 599 {
		t.Fatalf("identity vacuum: %v %v", len(m), err)
	}
	// Everything deleted: the graph becomes empty and usable.
	for id := range uint32(600) {
		if err := g.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	m, err = g.Vacuum()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range m {
		if x != math.MaxUint32 {
			t.Fatalf("deleted node mapped to %d", x)
		}
	}
	if g.Len() != 0 || g.Deleted() != 0 || g.MemoryBytes() != 0 {
		t.Fatalf("Len %d Deleted %d Memory %d after vacuuming everything", g.Len(), g.Deleted(), g.MemoryBytes())
	}
	if got := g.Search(data[0], 3, 10, nil); len(got) != 0 {
		t.Fatalf("Search on empty = %v", got)
	}
	for i, v := range data[:10] {
		id, err := g.Add(v)
		if err != nil || id != uint32(i) {
			t.Fatalf("Add after vacuum: id %d err %v", id, err)
		}
	}
	if got := g.Search(data[3], 1, 10, nil); len(got) != 1 || got[0].ID != 3 {
		t.Fatalf("Search = %v", got)
	}
	checkInvariants(t, g)
}
