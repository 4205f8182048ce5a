package filterbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/akidb/akidb/bench/dataset"
)

// Config says what to measure.
type Config struct {
	// Train and Test are MNIST image files; the label files are found
	// beside them (train-labels-idx1-ubyte[.gz]).
	Train, Test string
	// MaxBase and MaxQueries cut the sets short when > 0.
	MaxBase, MaxQueries int
	K, Ef               int
	// Targets are the selectivities to aim at; Digit the label the digit
	// filters keep; Seed seeds the r field.
	Targets []float64
	Digit   int
	Seed    uint64
	// Threads computes the ground truth in parallel (searches use one).
	Threads int
	// Progress receives one line per measurement (nil: silent).
	Progress io.Writer
	// Clock times the searches (nil: time.Now); CPUClock reads the
	// thread's CPU time (nil: the OS's, on Linux; 0 elsewhere). Searches
	// run on one goroutine locked to its thread.
	Clock    func() time.Time
	CPUClock func() time.Duration
	// CPUProfile, if set, receives a pprof CPU profile of the measurements
	// (not of the build or the ground truth).
	CPUProfile io.Writer
}

// DefaultTargets are the selectivities of the issue: 0.1%, 1%, 10%, 50%, 90%.
var DefaultTargets = []float64{0.001, 0.01, 0.1, 0.5, 0.9}

// Row is one measurement: a filter (or none) answered in one mode.
type Row struct {
	Mode   string  `json:"mode"`
	Filter string  `json:"filter"`
	Field  string  `json:"field"`
	Target float64 `json:"target_selectivity"`
	// Selectivity is the fraction of the base set the filter matches,
	// Matches the count.
	Selectivity float64 `json:"selectivity"`
	Matches     int     `json:"matches"`
	// Strategies counts the strategies the engine reported.
	Strategies map[string]int `json:"strategies"`
	Recall     float64        `json:"recall"`
	QPS        float64        `json:"qps"`
	P50us      float64        `json:"p50_us"`
	P99us      float64        `json:"p99_us"`
	// UnderReturns counts queries answered with fewer than min(k, matches)
	// results.
	UnderReturns int `json:"under_returns"`
	// UnfilteredP50us is the p50 of the unfiltered searches run
	// alternately with this row's (the same queries, one after the other),
	// and P50Ratio is P50us over it: measured side by side, the ratio holds
	// up when the machine's load changes during the run.
	UnfilteredP50us float64 `json:"unfiltered_p50_us"`
	P50Ratio        float64 `json:"p50_ratio"`
	// The same from the thread's CPU time (0 where it is not measured):
	// what the searches cost, whatever else runs on the machine.
	CPUP50us           float64 `json:"cpu_p50_us"`
	UnfilteredCPUP50us float64 `json:"unfiltered_cpu_p50_us"`
	CPUP50Ratio        float64 `json:"cpu_p50_ratio"`
}

// Setup describes the run.
type Setup struct {
	N       int     `json:"n"`
	Dim     int     `json:"dim"`
	Queries int     `json:"queries"`
	K       int     `json:"k"`
	Ef      int     `json:"ef"`
	BuildS  float64 `json:"build_s"`
}

// Report is everything Run measured.
type Report struct {
	Setup
	Unfiltered Row
	Rows       []Row
}

// Data is what Run measures on: the base rows with their metadata (row
// index = id) and the queries.
type Data struct {
	Base, Queries dataset.Matrix
	Meta          []Record
}

// Run builds the target from d and measures every filter in every mode
// the target offers, after the unfiltered baseline.
func Run(ctx context.Context, cfg Config, d Data, t Target) (Report, error) {
	if cfg.K < 1 || cfg.Ef < 1 {
		return Report{}, fmt.Errorf("k and ef must be at least 1 (got %d, %d)", cfg.K, cfg.Ef)
	}
	if len(cfg.Targets) == 0 {
		cfg.Targets = DefaultTargets
	}
	for _, s := range cfg.Targets {
		if s <= 0 || s >= 1 {
			return Report{}, fmt.Errorf("selectivity %v is not between 0 and 1", s)
		}
	}
	if cfg.Digit < 0 || cfg.Digit > 9 {
		return Report{}, fmt.Errorf("digit %d is not 0..9", cfg.Digit)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.CPUClock == nil {
		cfg.CPUClock = threadCPU
	}
	base, queries, meta := d.Base, d.Queries, d.Meta
	switch {
	case base.N == 0 || queries.N == 0:
		return Report{}, fmt.Errorf("no data: %d base rows, %d queries", base.N, queries.N)
	case base.Dim != queries.Dim:
		return Report{}, fmt.Errorf("base vectors have %d dimensions but queries have %d", base.Dim, queries.Dim)
	case len(meta) != base.N:
		return Report{}, fmt.Errorf("%d metadata records for %d base rows", len(meta), base.N)
	}
	rep := Report{Setup: Setup{N: base.N, Dim: base.Dim, Queries: queries.N, K: cfg.K, Ef: cfg.Ef}}
	progressf(cfg.Progress, "building %d x %d...\n", base.N, base.Dim)
	start := time.Now()
	if err := t.Build(base, meta); err != nil {
		return rep, fmt.Errorf("build: %w", err)
	}
	rep.BuildS = time.Since(start).Seconds()
	filters := filtersFor(cfg.Targets, cfg.Digit)
	progressf(cfg.Progress, "built in %.1fs; computing the filtered ground truth for %d filters...\n", rep.BuildS, len(filters))
	all := Filter{match: func(Record) bool { return true }}
	filters = append([]Filter{all}, filters...)
	allowed := make([][]bool, len(filters))
	matches := make([]int, len(filters))
	for fi, f := range filters {
		allowed[fi] = make([]bool, base.N)
		for i := range base.N {
			if f.match(meta[i]) {
				allowed[fi][i] = true
				matches[fi]++
			}
		}
	}
	gt, err := dataset.FilteredGroundTruth(ctx, base, queries, cfg.K, dataset.SquaredL2, cfg.Threads, allowed)
	if err != nil {
		return rep, err
	}
	// Warm-up: caches, pools, branch predictors.
	for i := 0; i < min(200, queries.N); i++ {
		if _, _, err := t.Search(queries.Row(i), cfg.K, cfg.Ef, nil, ""); err != nil {
			return rep, fmt.Errorf("warm-up: %w", err)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return rep, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rep.Unfiltered, err = measure(ctx, cfg, t, queries, all, "", gt[0], nil, matches[0], base.N)
	if err != nil {
		return rep, err
	}
	rep.Unfiltered.Mode = "unfiltered"
	progressf(cfg.Progress, "unfiltered: recall=%.4f qps=%.0f p50=%.0fus p99=%.0fus\n", rep.Unfiltered.Recall, rep.Unfiltered.QPS, rep.Unfiltered.P50us, rep.Unfiltered.P99us)
	for _, mode := range t.Modes() {
		for i, f := range filters[1:] {
			row, err := measure(ctx, cfg, t, queries, f, mode, gt[i+1], gt[0], matches[i+1], base.N)
			if err != nil {
				return rep, err
			}
			rep.Rows = append(rep.Rows, row)
			progressf(cfg.Progress, "%s %s (%.2f%%): recall=%.4f qps=%.0f p50=%.0fus (%.2fx unfiltered %.0fus; cpu %.2fx) p99=%.0fus under=%d %v\n",
				mode, f.JSON, 100*row.Selectivity, row.Recall, row.QPS, row.P50us, row.P50Ratio, row.UnfilteredP50us, row.CPUP50Ratio, row.P99us, row.UnderReturns, row.Strategies)
		}
	}
	return rep, nil
}

func progressf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

// Load reads the MNIST files cfg names (the labels from beside the train
// images) and gives every base row its metadata.
func Load(cfg Config) (Data, error) {
	if cfg.Train == "" || cfg.Test == "" {
		return Data{}, errors.New("give the MNIST image files (--train/--test, or --mnist)")
	}
	base, err := dataset.ReadIDX(cfg.Train, cfg.MaxBase)
	if err != nil {
		return Data{}, err
	}
	queries, err := dataset.ReadIDX(cfg.Test, cfg.MaxQueries)
	if err != nil {
		return Data{}, err
	}
	labelsPath, err := dataset.MNISTLabelsFor(cfg.Train)
	if err != nil {
		return Data{}, err
	}
	labels, err := dataset.ReadIDXLabels(labelsPath, base.N)
	if err != nil {
		return Data{}, err
	}
	if len(labels) < base.N {
		return Data{}, fmt.Errorf("%s has %d labels for %d images", labelsPath, len(labels), base.N)
	}
	return Data{Base: base, Queries: queries, Meta: Records(labels[:base.N], cfg.Seed)}, nil
}

// Records gives each row its metadata: the label as digit and a uniform r
// in [0, 1000) drawn from seed.
func Records(labels []uint8, seed uint64) []Record {
	rng := rand.New(rand.NewPCG(seed, 0x5e1ec7))
	out := make([]Record, len(labels))
	for i, l := range labels {
		out[i] = Record{Digit: strconv.Itoa(int(l)), R: rng.IntN(1000)}
	}
	return out
}

// measure times every query through t with one filter and mode. With
// paired (the unfiltered ground truth), each query is also run unfiltered,
// alternately before and after the filtered one, for the row's
// UnfilteredP50us and P50Ratio.
func measure(ctx context.Context, cfg Config, t Target, queries dataset.Matrix, f Filter, mode string, gt, paired [][]int32, matches, n int) (Row, error) {
	row := Row{Mode: mode, Filter: f.JSON, Field: f.Field, Target: f.Target, Matches: matches,
		Selectivity: float64(matches) / float64(n), Strategies: map[string]int{}}
	var filter []byte
	if f.JSON != "" {
		filter = []byte(f.JSON)
	}
	lat := make([]time.Duration, queries.N)
	cpu := make([]time.Duration, queries.N)
	var base, baseCPU []time.Duration
	var total time.Duration
	unfiltered := func(q []float32) error {
		t0, c0 := cfg.Clock(), cfg.CPUClock()
		_, _, err := t.Search(q, cfg.K, cfg.Ef, nil, "")
		base = append(base, cfg.Clock().Sub(t0))
		baseCPU = append(baseCPU, cfg.CPUClock()-c0)
		return err
	}
	for i := range queries.N {
		if err := ctx.Err(); err != nil {
			return row, err
		}
		q := queries.Row(i)
		if paired != nil && i%2 == 0 {
			if err := unfiltered(q); err != nil {
				return row, fmt.Errorf("unfiltered query %d: %w", i, err)
			}
		}
		t0, c0 := cfg.Clock(), cfg.CPUClock()
		ids, strategy, err := t.Search(q, cfg.K, cfg.Ef, filter, mode)
		lat[i], cpu[i] = cfg.Clock().Sub(t0), cfg.CPUClock()-c0
		if err != nil {
			return row, fmt.Errorf("%s %s query %d: %w", mode, f.JSON, i, err)
		}
		if paired != nil && i%2 == 1 {
			if err := unfiltered(q); err != nil {
				return row, fmt.Errorf("unfiltered query %d: %w", i, err)
			}
		}
		total += lat[i]
		row.Strategies[strategy]++
		if len(ids) < min(cfg.K, matches) {
			row.UnderReturns++
		}
		row.Recall += dataset.QueryRecall(ids, gt[i], cfg.K)
	}
	row.Recall /= float64(queries.N)
	slices.Sort(lat)
	row.P50us = micros(percentile(lat, 50))
	row.P99us = micros(percentile(lat, 99))
	if total > 0 {
		row.QPS = float64(queries.N) / total.Seconds()
	}
	row.CPUP50us = micros(median(cpu))
	row.UnfilteredP50us, row.P50Ratio = row.P50us, 1
	row.UnfilteredCPUP50us, row.CPUP50Ratio = row.CPUP50us, 1
	if paired != nil {
		row.UnfilteredP50us, row.P50Ratio = micros(median(base)), 0
		row.UnfilteredCPUP50us, row.CPUP50Ratio = micros(median(baseCPU)), 0
		if row.UnfilteredP50us > 0 {
			row.P50Ratio = row.P50us / row.UnfilteredP50us
		}
		if row.UnfilteredCPUP50us > 0 {
			row.CPUP50Ratio = row.CPUP50us / row.UnfilteredCPUP50us
		}
	}
	return row, nil
}

// median sorts d and returns its p50.
func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return percentile(d, 50)
}

// percentile is the nearest-rank p-th percentile of sorted values.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
