package hnsw

import (
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

// TestReserveThenLink: a reserved node is visible to exact scans only; once
// linked the graph search finds it; an abandoned one is found by neither.
func TestReserveThenLink(t *testing.T) {
	data := clustered(7, 300, 8, 4)
	g := build(t, Config{Dim: 8, Metric: distance.L2, M: 8, EfConstruction: 64, Seed: 1}, data)
	q := []float32{50, 50, 50, 50, 50, 50, 50, 50} // far from every cluster
	id, err := g.Reserve(q)
	if err != nil {
		t.Fatal(err)
	}
	if g.Unlinked() != 1 {
		t.Fatalf("Unlinked = %d, want 1", g.Unlinked())
	}
	if nb := g.ExactSearch(q, 1, nil); len(nb) != 1 || nb[0].ID != id {
		t.Fatalf("ExactSearch of a reserved node = %v, want id %d", nb, id)
	}
	if nb := g.Search(q, 1, 32, nil); len(nb) == 1 && nb[0].ID == id {
		t.Fatal("graph search found a node that is not linked")
	}
	if _, err := g.Vacuum(); err == nil {
		t.Fatal("Vacuum ran with a reserved node not linked")
	}
	g.Link(id)
	if g.Unlinked() != 0 {
		t.Fatalf("Unlinked = %d after Link", g.Unlinked())
	}
	if nb := g.Search(q, 1, 32, nil); len(nb) != 1 || nb[0].ID != id {
		t.Fatalf("graph search after Link = %v, want id %d", nb, id)
	}

	gone, err := g.Reserve([]float32{-50, -50, -50, -50, -50, -50, -50, -50})
	if err != nil {
		t.Fatal(err)
	}
	g.Abandon(gone)
	if g.Unlinked() != 0 || !g.IsDeleted(gone) {
		t.Fatalf("after Abandon: unlinked %d, deleted %v", g.Unlinked(), g.IsDeleted(gone))
	}
	if nb := g.ExactSearch([]float32{-50, -50, -50, -50, -50, -50, -50, -50}, 1, nil); len(nb) == 1 && nb[0].ID == gone {
		t.Fatal("an abandoned node is still found")
	}
	if _, err := g.Vacuum(); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, g)
	if _, err := g.Reserve([]float32{1}); err == nil {
		t.Fatal("Reserve accepted a vector of the wrong dimension")
	}
}
