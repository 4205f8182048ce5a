package ann

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/akidb/akidb/bench/dataset"
)

// sweep measures every ef in order and appends a Result per ef to rep.
func sweep(ctx context.Context, idx Index, n int, queries dataset.Matrix, gt [][]int32, cfg Config, rep *Report) error {
	for i := 0; i < cfg.WarmupQueries; i++ {
		if _, err := idx.Search(queries.Row(i), cfg.K, cfg.Efs[0]); err != nil {
			return fmt.Errorf("warm-up search ef=%d query %d: %w", cfg.Efs[0], i, err)
		}
	}
	for _, ef := range cfg.Efs {
		search := func(q []float32) ([]int32, error) { return idx.Search(q, cfg.K, ef) }
		m, err := timeQueries(ctx, search, queries.N, n, queries, gt, cfg)
		if err != nil {
			return fmt.Errorf("search ef=%d: %w", ef, err)
		}
		rep.Results = append(rep.Results, Result{
			Ef: ef, Recall: m.Recall, QPS: m.QPS, P50us: m.P50us, P99us: m.P99us,
			Setup: rep.Setup,
		})
		progressf(cfg.Progress, "ef=%d: recall=%.4f qps=%.1f p50=%.1fus p99=%.1fus\n", ef, m.Recall, m.QPS, m.P50us, m.P99us)
	}
	return nil
}

// exact times ExactSearch on the first cfg.ExactQueries queries.
func exact(ctx context.Context, idx Index, n int, queries dataset.Matrix, gt [][]int32, cfg Config) (ExactResult, error) {
	search := func(q []float32) ([]int32, error) { return idx.ExactSearch(q, cfg.K) }
	m, err := timeQueries(ctx, search, cfg.ExactQueries, n, queries, gt, cfg)
	if err != nil {
		return ExactResult{}, fmt.Errorf("exact search: %w", err)
	}
	return m, nil
}

// timeQueries runs search on the first nq queries one at a time, timing each
// call alone, and checks and scores the answers outside the timed region.
func timeQueries(ctx context.Context, search func([]float32) ([]int32, error), nq, n int, queries dataset.Matrix, gt [][]int32, cfg Config) (ExactResult, error) {
	lat := make([]time.Duration, nq)
	var total time.Duration
	var recall float64
	for i := 0; i < nq; i++ {
		if err := ctx.Err(); err != nil {
			return ExactResult{}, err
		}
		q := queries.Row(i)
		t0 := cfg.Clock()
		ids, err := search(q)
		lat[i] = cfg.Clock().Sub(t0)
		if err != nil {
			return ExactResult{}, fmt.Errorf("query %d: %w", i, err)
		}
		for _, id := range ids {
			if id < 0 || int(id) >= n {
				return ExactResult{}, fmt.Errorf("query %d: id %d is not a row index in [0, %d)", i, id, n)
			}
		}
		total += lat[i]
		recall += dataset.QueryRecall(ids, gt[i], cfg.K)
	}
	slices.Sort(lat)
	m := ExactResult{
		Queries: nq,
		Recall:  recall / float64(nq),
		P50us:   micros(percentile(lat, 50)),
		P99us:   micros(percentile(lat, 99)),
	}
	// A clock that did not advance (coarse timer, fake clock) gives no rate
	// rather than +Inf, which JSON cannot carry.
	if total > 0 {
		m.QPS = float64(nq) / total.Seconds()
	}
	return m, nil
}

// percentile is the nearest-rank p-th percentile of sorted (non-empty) values.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
