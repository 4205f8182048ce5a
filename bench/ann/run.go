package ann

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/akidb/akidb/bench/dataset"
)

// Run builds idx from base, then sweeps cfg.Efs with queries and times exact
// search. gt holds at least min(K, base.N) true neighbour ids per query (more
// rows than queries are fine: the first queries.N are used); nil gt is
// computed here (see the package doc for the metric rules).
//
// On error the returned Report holds what was measured before it.
func Run(ctx context.Context, idx Index, base, queries dataset.Matrix, gt [][]int32, cfg Config) (Report, error) {
	cfg, dist, err := prepare(idx, base, queries, cfg)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Setup: Setup{
		K: cfg.K, M: cfg.M, EfConstruction: cfg.EfConstruction,
		N: base.N, Dim: base.Dim, Queries: queries.N,
		Metric: cfg.Metric, BuildThreads: cfg.Threads, Tags: cfg.Tags,
	}}

	if gt == nil {
		progressf(cfg.Progress, "ground truth: %d queries x %d rows, k=%d, %d threads\n", queries.N, base.N, cfg.K, cfg.Threads)
		gb, gq := base, queries
		if cfg.Metric == MetricCosine {
			gb, gq = base.NormalizedCopy(), queries.NormalizedCopy()
		}
		gt, err = dataset.GroundTruth(ctx, gb, gq, cfg.K, dist, cfg.Threads)
		if err != nil {
			return rep, fmt.Errorf("ann run: %w", err)
		}
	}
	if err := checkGroundTruth(gt, queries.N, min(cfg.K, base.N)); err != nil {
		return rep, err
	}
	gt = gt[:queries.N]

	var rss0 Resident
	if cfg.ResidentBytes != nil {
		rss0 = cfg.ResidentBytes()
	}
	buildTime, err := build(ctx, idx, base, cfg)
	rep.BuildS = buildTime.Seconds()
	if err != nil {
		return rep, fmt.Errorf("ann run: build: %w", err)
	}
	if s, ok := idx.(Settler); ok {
		progressf(cfg.Progress, "waiting for the index's background work\n")
		if err := s.Settle(ctx); err != nil {
			return rep, fmt.Errorf("ann run: settle: %w", err)
		}
	}
	rep.MemBytes = idx.MemoryBytes()
	if cfg.ResidentBytes != nil {
		rss := cfg.ResidentBytes()
		rep.RSSBytes, rep.RSSAnonBytes = rss.Total-rss0.Total, rss.Anon-rss0.Anon
		// Shared memory (a scratch directory on tmpfs) is file-backed too.
		rep.RSSFileBytes = rss.File + rss.Shmem - rss0.File - rss0.Shmem
	}

	if err := sweep(ctx, idx, base.N, queries, gt, cfg, &rep); err != nil {
		return rep, fmt.Errorf("ann run: %w", err)
	}
	if cfg.ExactQueries > 0 {
		ex, err := exact(ctx, idx, base.N, queries, gt, cfg)
		if err != nil {
			return rep, fmt.Errorf("ann run: %w", err)
		}
		rep.Exact = ex
		progressf(cfg.Progress, "exact: recall=%.4f qps=%.1f p50=%.1fus p99=%.1fus (%d queries)\n", ex.Recall, ex.QPS, ex.P50us, ex.P99us, ex.Queries)
	}
	return rep, nil
}

// prepare validates the inputs and fills in defaults.
func prepare(idx Index, base, queries dataset.Matrix, cfg Config) (Config, dataset.DistanceFunc, error) {
	if idx == nil {
		return cfg, nil, fmt.Errorf("ann run: nil index")
	}
	if err := base.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("ann run: base: %w", err)
	}
	if err := queries.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("ann run: queries: %w", err)
	}
	if base.N == 0 || queries.N == 0 {
		return cfg, nil, fmt.Errorf("ann run: need base and query rows (have %d and %d)", base.N, queries.N)
	}
	if base.Dim != queries.Dim {
		return cfg, nil, fmt.Errorf("ann run: base dim %d != query dim %d", base.Dim, queries.Dim)
	}
	if cfg.K <= 0 {
		return cfg, nil, fmt.Errorf("ann run: K = %d, want >= 1", cfg.K)
	}
	if len(cfg.Efs) == 0 {
		return cfg, nil, fmt.Errorf("ann run: no ef values to sweep")
	}
	for _, ef := range cfg.Efs {
		if ef <= 0 {
			return cfg, nil, fmt.Errorf("ann run: ef %d, want >= 1", ef)
		}
	}
	var dist dataset.DistanceFunc
	switch cfg.Metric {
	case MetricL2:
		dist = dataset.SquaredL2
	case MetricDot, MetricCosine:
		dist = dataset.DotDistance
	default:
		return cfg, nil, fmt.Errorf("ann run: unknown metric %q (want %s, %s or %s)", cfg.Metric, MetricL2, MetricDot, MetricCosine)
	}
	cfg.Threads = max(cfg.Threads, 1)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.ExactQueries == 0 {
		cfg.ExactQueries = min(1000, queries.N)
	}
	cfg.ExactQueries = min(cfg.ExactQueries, queries.N)
	if cfg.WarmupQueries == 0 {
		cfg.WarmupQueries = min(300, queries.N)
	}
	cfg.WarmupQueries = min(cfg.WarmupQueries, queries.N)
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = 1000
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = 200 * time.Millisecond
		if cfg.ProgressLines {
			cfg.ProgressInterval = 5 * time.Second
		}
	}
	return cfg, dist, nil
}

func checkGroundTruth(gt [][]int32, nq, need int) error {
	if len(gt) < nq {
		return fmt.Errorf("ann run: ground truth has %d rows for %d queries", len(gt), nq)
	}
	for i, row := range gt[:nq] {
		if len(row) < need {
			return fmt.Errorf("ann run: ground truth row %d has %d ids, recall@K needs %d", i, len(row), need)
		}
	}
	return nil
}

// progressf writes to the progress stream. Progress is cosmetic, so a failed
// write is ignored rather than failing the measurement.
func progressf(w io.Writer, format string, args ...any) {
	if w != nil {
		_, _ = fmt.Fprintf(w, format, args...)
	}
}
