package annengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"

	"github.com/akidb/akidb/bench/ann"
	"github.com/akidb/akidb/bench/dataset"
	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

// Config names the dataset files and the benchmark parameters.
type Config struct {
	// Texmex files: Base and Query are .fvecs (or .bvecs); GT is .ivecs and
	// optional (computed by exact search when empty).
	Base, Query, GT string
	// MNIST-style IDX files (optionally gzipped), used when Base is empty.
	Train, Test string
	// MaxBase and MaxQueries cut the sets short when > 0.
	MaxBase, MaxQueries int

	K              int
	M              int
	EfConstruction int
	Efs            []int
	Threads        int
	Metric         string
	Seed           int64
	JSON           bool
}

// Run loads the data, builds a collection, runs the sweep and writes the
// report to out (a table, or JSON lines with cfg.JSON). Progress goes to
// progress (nil for none).
func Run(ctx context.Context, cfg Config, out, progress io.Writer, logger *slog.Logger) error {
	metric, err := distance.ParseMetric(cfg.Metric)
	if err != nil {
		return err
	}
	if cfg.Threads < 1 {
		return fmt.Errorf("--threads must be at least 1, got %d", cfg.Threads)
	}
	if cfg.K < 1 {
		return fmt.Errorf("--k must be at least 1, got %d", cfg.K)
	}
	if len(cfg.Efs) == 0 {
		return errors.New("--ef needs at least one value")
	}
	base, queries, gt, err := load(cfg)
	if err != nil {
		return err
	}
	logger.Info("dataset loaded", "base", base.N, "queries", queries.N, "dim", base.Dim, "ground_truth", gt != nil, "kernels", distance.Implementation(), "gomaxprocs", runtime.GOMAXPROCS(0))
	col, err := engine.NewCollection(engine.CollectionConfig{
		Name: "bench", Dimension: base.Dim, Metric: metric,
		M: cfg.M, EfConstruction: cfg.EfConstruction, Seed: cfg.Seed,
	})
	if err != nil {
		return err
	}
	rep, err := ann.Run(ctx, NewIndex(col), base, queries, gt, ann.Config{
		K: cfg.K, Efs: cfg.Efs, Threads: cfg.Threads, Metric: cfg.Metric,
		M: col.Config().M, EfConstruction: col.Config().EfConstruction, Progress: progress,
	})
	if err != nil {
		return err
	}
	if cfg.JSON {
		return ann.WriteJSON(out, rep)
	}
	return ann.WriteTable(out, rep)
}

func load(cfg Config) (base, queries dataset.Matrix, gt [][]int32, err error) {
	switch {
	case cfg.Base != "":
		if cfg.Query == "" {
			return base, queries, nil, errors.New("--base needs --query")
		}
		if base, err = dataset.Load(cfg.Base, cfg.MaxBase); err != nil {
			return base, queries, nil, err
		}
		if queries, err = dataset.Load(cfg.Query, cfg.MaxQueries); err != nil {
			return base, queries, nil, err
		}
		if cfg.GT != "" && cfg.MaxBase == 0 {
			// Ground truth files describe the full base set; with a cut
			// base they would be wrong, so it is recomputed instead.
			if gt, err = dataset.ReadIvecs(cfg.GT, cfg.MaxQueries); err != nil {
				return base, queries, nil, err
			}
		}
	case cfg.Train != "":
		if cfg.Test == "" {
			return base, queries, nil, errors.New("--train needs --test")
		}
		if base, err = dataset.ReadIDX(cfg.Train, cfg.MaxBase); err != nil {
			return base, queries, nil, err
		}
		if queries, err = dataset.ReadIDX(cfg.Test, cfg.MaxQueries); err != nil {
			return base, queries, nil, err
		}
	default:
		return base, queries, nil, errors.New("give --base/--query[/--gt] (texmex) or --train/--test (MNIST idx)")
	}
	if base.Dim != queries.Dim {
		return base, queries, nil, fmt.Errorf("base vectors have %d dimensions but queries have %d", base.Dim, queries.Dim)
	}
	if gt != nil && len(gt) < queries.N {
		return base, queries, nil, fmt.Errorf("ground truth has %d rows for %d queries", len(gt), queries.N)
	}
	if gt != nil && len(gt[0]) < cfg.K {
		return base, queries, nil, fmt.Errorf("ground truth has %d neighbours per query, --k is %d", len(gt[0]), cfg.K)
	}
	return base, queries, gt, nil
}
