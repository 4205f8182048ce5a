package hnsw

import (
	"errors"
	"slices"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

// TestStoppableSearches: SearchUntil and ExactSearchUntil ask their stop
// function every StopEvery distance computations and end with ErrStopped
// when it says so, give way to a waiting Vacuum with ErrInterrupted, and
// otherwise answer exactly as Search and ExactSearch.
func TestStoppableSearches(t *testing.T) {
	vecs := clustered(3, 3000, 16, 10)
	g := build(t, Config{Dim: 16, Metric: distance.L2, M: 8, EfConstruction: 64, Seed: 1}, vecs)
	q := vecs[17]
	never := func() bool { return false }
	got, err := g.SearchUntil(q, 10, 500, nil, never)
	if err != nil || !slices.Equal(got, g.Search(q, 10, 500, nil)) {
		t.Fatalf("SearchUntil without stopping: %v, differs from Search", err)
	}
	exact, err := g.ExactSearchUntil(q, 10, nil, never)
	if err != nil || !slices.Equal(exact, g.ExactSearch(q, 10, nil)) {
		t.Fatalf("ExactSearchUntil without stopping: %v, differs from ExactSearch", err)
	}

	for name, run := range map[string]func(stop func() bool) error{
		"graph": func(stop func() bool) error { _, err := g.SearchUntil(q, 10, 3000, nil, stop); return err },
		"exact": func(stop func() bool) error { _, err := g.ExactSearchUntil(q, 10, nil, stop); return err },
	} {
		calls := 0
		// Stop at the second check: the search was under way.
		if err := run(func() bool { calls++; return calls == 2 }); !errors.Is(err, ErrStopped) || calls != 2 {
			t.Fatalf("%s: stop at the second check: %v after %d checks", name, err, calls)
		}
		g.vacuuming.Add(1)
		err := run(never)
		g.vacuuming.Add(-1)
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("%s with a vacuum waiting: %v, want ErrInterrupted", name, err)
		}
	}
}
