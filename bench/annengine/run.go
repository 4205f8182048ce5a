package annengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/akidb/akidb/bench/ann"
	"github.com/akidb/akidb/bench/dataset"
	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/wal"
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

	// Synthetic, "N:DIM" or "N:DIM:CLUSTERS" (default 32 clusters), draws
	// N clustered Gaussian base vectors and MaxQueries (default 1000)
	// queries instead of reading files (--synthetic; seeded by Seed).
	Synthetic string

	K              int
	M              int
	EfConstruction int
	Efs            []int
	Threads        int
	Metric         string
	Seed           int64
	JSON           bool

	// Quantization is the collection's quantization (--quantization,
	// --originals, --ranges); Rerank the queries' rerank (--rerank, 0:
	// ef). Originals on disk go to a vectors file in a temporary
	// directory under VectorsDir (--vectors-dir; "" the system's).
	Quantization engine.Quantization
	Rerank       int
	VectorsDir   string
	// Label names this configuration in the JSON lines and the plot
	// (--label; default from the quantization settings).
	Label string
	// PlotFile gets the recall/QPS plot of this run and of the Compare
	// files' series (--plot, --compare).
	PlotFile string
	Compare  []string
	// ProgressLines writes build progress as lines instead of redrawing
	// one (progress that is not a terminal).
	ProgressLines bool
}

// DefaultLabel names a configuration: "akidb float32", "akidb int8",
// "akidb int8 disk" (with a rerank other than ef: " rerank N").
func DefaultLabel(q engine.Quantization, rerank int) string {
	l := "akidb float32"
	if q.Type == engine.QuantInt8 {
		l = "akidb int8"
		if q.Originals == engine.OriginalsDisk {
			l += " disk"
		}
		if q.Ranges != "" && q.Ranges != engine.RangesAuto {
			l += " " + q.Ranges
		}
	}
	if rerank > 0 {
		l += fmt.Sprintf(" rerank %d", rerank)
	}
	return l
}

// Run loads the data, builds a collection, runs the sweep and writes the
// report to out (a table, or JSON lines with cfg.JSON) and the plot.
// Progress goes to progress (nil for none).
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
	if cfg.Rerank < 0 || cfg.Rerank > engine.MaxEf {
		return fmt.Errorf("--rerank must be between 0 (ef) and %d, got %d", engine.MaxEf, cfg.Rerank)
	}
	if cfg.Quantization.Type == engine.QuantInt8 && cfg.Quantization.Originals == engine.OriginalsDisk && cfg.VectorsDir != "" {
		if fi, err := os.Stat(cfg.VectorsDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("--vectors-dir %s: not a directory", cfg.VectorsDir)
		}
	}
	if len(cfg.Compare) > 0 && cfg.PlotFile == "" {
		return errors.New("--compare needs --plot: it overlays the files' curves on the plot")
	}
	// The compared series are read first: a bad file fails before the
	// build, not after it.
	var compared []ann.Series
	for _, path := range cfg.Compare {
		s, err := ann.ReadCurves(path)
		if err != nil {
			return err
		}
		if len(s) == 0 {
			return fmt.Errorf("--compare %s: no lines with ef, recall and qps", path)
		}
		compared = append(compared, s...)
	}
	base, queries, gt, err := load(cfg)
	if err != nil {
		return err
	}
	logger.Info("dataset loaded", "base", base.N, "queries", queries.N, "dim", base.Dim, "ground_truth", gt != nil, "kernels", distance.Implementation(), "int8_kernels", distance.Int8Implementation(), "gomaxprocs", runtime.GOMAXPROCS(0))
	col, err := engine.NewCollection(engine.CollectionConfig{
		Name: "bench", Dimension: base.Dim, Metric: metric,
		M: cfg.M, EfConstruction: cfg.EfConstruction, Seed: cfg.Seed,
		Quantization: cfg.Quantization,
	})
	if err != nil {
		return err
	}
	q := col.Config().Quantization
	if q.Originals == engine.OriginalsDisk {
		dir, err := os.MkdirTemp(cfg.VectorsDir, "akidb-bench-vectors-")
		if err != nil {
			return fmt.Errorf("--originals disk: %w", err)
		}
		defer os.RemoveAll(dir)
		col.SetVectorsDir(wal.OSFS{}, dir)
		// As a durable collection does: the graph's lists and codes in
		// file-backed memory (page cache), next to the originals.
		if err := col.SetMappedDir(filepath.Join(dir, engine.MappedDirName)); err != nil {
			return fmt.Errorf("--originals disk: %w", err)
		}
	}
	defer col.CloseQuantization()
	label := cfg.Label
	if label == "" {
		label = DefaultLabel(q, cfg.Rerank)
	}
	idx := NewIndex(col)
	idx.rerank = cfg.Rerank
	rep, err := ann.Run(ctx, idx, base, queries, gt, ann.Config{
		K: cfg.K, Efs: cfg.Efs, Threads: cfg.Threads, Metric: cfg.Metric,
		M: col.Config().M, EfConstruction: col.Config().EfConstruction, Progress: progress,
		ProgressLines: cfg.ProgressLines, ResidentBytes: ResidentBytes,
		Tags: ann.Tags{Label: label, Engine: "akidb", Quantization: q.Type, Originals: q.Originals, Rerank: cfg.Rerank},
	})
	if err != nil {
		return err
	}
	if q.Type == engine.QuantInt8 {
		st := col.QuantizationStatus()
		logger.Info("quantization", "state", st.State, "traversing", st.Traversing, "originals_on_disk", st.OriginalsOnDisk,
			"ranges", st.RangesInUse, "recall_collection", st.RecallCollection, "recall_dimension", st.RecallDimension, "trained_on", st.TrainedOn)
	}
	if cfg.PlotFile != "" {
		if err := writePlot(cfg.PlotFile, append([]ann.Series{ann.SeriesOf(label, rep)}, compared...), base, queries.N, cfg.K); err != nil {
			return err
		}
	}
	if cfg.JSON {
		return ann.WriteJSON(out, rep)
	}
	return ann.WriteTable(out, rep)
}

// writePlot writes the plot file (via a temporary file, so a failed write
// leaves no half page).
func writePlot(path string, series []ann.Series, base dataset.Matrix, nq, k int) error {
	title := fmt.Sprintf("recall@%d vs QPS, %d x %d, %d queries", k, base.N, base.Dim, nq)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plot-*.html")
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := ann.WritePlot(tmp, title, series); err != nil {
		tmp.Close()
		return fmt.Errorf("--plot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil { // a report to share, like the JSON on stdout
		return fmt.Errorf("--plot: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	return nil
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
	case cfg.Synthetic != "":
		if base, queries, err = synthetic(cfg.Synthetic, cfg.MaxQueries, uint64(cfg.Seed)); err != nil {
			return base, queries, nil, err
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
		return base, queries, nil, errors.New("give --base/--query[/--gt] (texmex), --train/--test (MNIST idx) or --synthetic N:DIM")
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
