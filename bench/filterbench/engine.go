package filterbench

import (
	"context"
	"fmt"
	"strconv"

	"github.com/akidb/akidb/bench/dataset"
	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/filter"
)

// Engine measures this build's engine: a collection with payload indexes on
// digit (keyword) and r (integer).
type Engine struct {
	M, EfConstruction int
	Seed              int64
	// Compare adds modes that force each index_* plan and, last, the
	// filter without indexes (the indexes are then dropped).
	Compare bool

	c *engine.Collection
}

// Modes: "auto" lets the planner choose; with Compare, "index_exact",
// "index_two_hop" and "index_graph" force a plan and "no_index" drops the
// indexes.
func (e *Engine) Modes() []string {
	if !e.Compare {
		return []string{"auto"}
	}
	return []string{"auto", engine.StrategyIndexExact, engine.StrategyIndexTwoHop, engine.StrategyIndexGraph, "no_index"}
}

// Build creates the collection (one build goroutine) with its indexes
// declared up front.
func (e *Engine) Build(base dataset.Matrix, meta []Record) error {
	c, err := engine.NewCollection(engine.CollectionConfig{
		Name: "filterbench", Dimension: base.Dim, Metric: distance.L2, M: e.M, EfConstruction: e.EfConstruction, Seed: e.Seed,
		Indexes: map[string]string{"digit": "keyword", "r": "integer"},
	})
	if err != nil {
		return err
	}
	const batch = 256
	recs := make([]engine.Record, 0, batch)
	for start := 0; start < base.N; start += batch {
		recs = recs[:0]
		for i := start; i < min(start+batch, base.N); i++ {
			recs = append(recs, engine.Record{ID: strconv.Itoa(i), Vector: base.Row(i),
				Metadata: map[string]any{"digit": meta[i].Digit, "r": float64(meta[i].R)}})
		}
		if err := c.Upsert(recs); err != nil {
			return fmt.Errorf("upsert rows from %d: %w", start, err)
		}
	}
	e.c = c
	return nil
}

// Search runs one query.
func (e *Engine) Search(q []float32, k, ef int, filterJSON []byte, mode string) ([]int32, string, error) {
	req := engine.SearchRequest{Vector: q, K: k, Ef: ef}
	if filterJSON != nil {
		f, err := filter.Parse(filterJSON)
		if err != nil {
			return nil, "", err
		}
		req.Filter = f
	}
	switch mode {
	case engine.StrategyIndexExact, engine.StrategyIndexTwoHop, engine.StrategyIndexGraph:
		req.Strategy = mode
	case "no_index":
		for _, in := range e.c.Indexes() {
			if err := e.c.DropIndex(in.Field); err != nil {
				return nil, "", err
			}
		}
	}
	res, err := e.c.Search(context.Background(), req)
	if err != nil {
		return nil, "", err
	}
	out := make([]int32, len(res.Hits))
	for i, h := range res.Hits {
		n, err := strconv.Atoi(h.ID)
		if err != nil {
			return nil, "", fmt.Errorf("unexpected id %q", h.ID)
		}
		out[i] = int32(n)
	}
	return out, res.Strategy, nil
}
