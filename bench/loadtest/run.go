package loadtest

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"

	"github.com/akidb/akidb/bench/dataset"
)

// Run carries out a load test: start an embedded server (or reach
// cfg.Target), create and preload a collection, run the timed load
// (constant or ramp), check recall, and clean up. It writes progress to
// stderr, the report to stdout (text or JSON), and the optional JSON and
// plot files. When a --fail-on condition holds it returns the report and a
// *ThresholdError.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer, logger *slog.Logger) (rep *Report, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var progress io.Writer
	if !cfg.Quiet {
		progress = stderr
	}
	say := func(format string, args ...any) {
		if progress != nil {
			fmt.Fprintf(progress, format+"\n", args...)
		}
	}

	vecs, vecName, err := vectorSource(cfg)
	if err != nil {
		return nil, err
	}
	httpClient, err := newHTTPClient(cfg, cfg.MaxWorkers)
	if err != nil {
		return nil, err
	}

	base, key := strings.TrimRight(cfg.Target, "/"), cfg.APIKey
	var emb *embeddedServer
	if cfg.Target == "" {
		say("starting an embedded server on loopback (temporary data dir)")
		if emb, err = startEmbedded(ctx, cfg.Version, logger); err != nil {
			return nil, err
		}
		defer func() {
			say("stopping the embedded server")
			if cerr := emb.close(context.WithoutCancel(ctx)); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}()
		base, key = emb.URL, emb.APIKey
	}
	header := http.Header{}
	if key != "" {
		header.Set("Authorization", "Bearer "+key)
	}
	api := &apiClient{http: httpClient, base: base, header: header}
	if err := api.checkReachable(ctx); err != nil {
		return nil, err
	}
	var notes []string
	if emb != nil {
		note, err := disableRateLimit(ctx, api)
		if err != nil {
			return nil, err
		}
		if note != "" {
			notes = append(notes, note)
		}
		if note := storageNote(emb.dir); note != "" {
			notes = append(notes, note)
		}
	}
	if emb == nil {
		// Said before the load starts: a load against a rate limit
		// measures the limit.
		want := cfg.QPS
		if cfg.Ramp != nil {
			want = cfg.Ramp.End
		}
		qps, burst, limited, err := api.serverRate(ctx)
		if err != nil {
			return nil, fmt.Errorf("ask the server's rate limit: %w", authHint(err))
		}
		if w := rateWarning(qps, burst, want); limited && w != "" {
			fmt.Fprintf(stderr, "akidb loadtest: warning: %s\n", w)
			notes = append(notes, w)
		}
	}

	coll := cfg.Collection
	if coll == "" {
		coll = fmt.Sprintf("loadtest-%x", time.Now().UnixNano())
	}
	createBody := fmt.Appendf(nil, `{"name":%q,"dimension":%d,"metric":%q,"hnsw":{"m":%d,"ef_construction":%d}`,
		coll, vecs.Dim(), cfg.Metric, cfg.M, cfg.EfConstruction)
	if cfg.Quantization != "" {
		createBody = fmt.Appendf(createBody, `,"quantization":{"type":%q,"originals":%q}`, cfg.Quantization, cmp.Or(cfg.Originals, "memory"))
	}
	if cfg.filterIndexed() {
		createBody = fmt.Appendf(createBody, `,"indexes":{%q:"integer"}`, BucketField)
	}
	createBody = append(createBody, '}')
	if err := api.doRetry(ctx, http.MethodPost, "/api/v1/collections", createBody, nil); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusConflict {
			return nil, fmt.Errorf("collection %q already exists on %s: choose another --collection", coll, base)
		}
		return nil, fmt.Errorf("create collection: %w", authHint(err))
	}
	wl, err := NewWorkload(WorkloadConfig{
		BaseURL: base, Collection: coll, Metric: cfg.Metric, Header: header, Vectors: vecs,
		Mix: cfg.Mix, K: cfg.K, Ef: cfg.Ef, Rerank: cfg.Rerank, FilterSelectivity: cfg.FilterSelectivity,
		InsertBatch: cfg.InsertBatch, Preload: cfg.Preload, MaxDeletes: cfg.maxDeletes(), Seed: cfg.Seed,
	})
	if err != nil {
		return nil, err
	}
	if emb == nil && !cfg.Keep {
		// The embedded server's data vanishes with it; a real server keeps
		// what the run made unless it is dropped.
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			for _, name := range append(wl.ChurnAlive(), coll) {
				if derr := api.do(cctx, http.MethodDelete, "/api/v1/collections/"+name, nil, nil); derr != nil {
					var ae *APIError
					if !errors.As(derr, &ae) || ae.Status != http.StatusNotFound {
						logger.Warn("clean-up: could not drop a collection", "collection", name, "err", derr)
					}
				}
			}
		}()
	}

	rep = &Report{
		Target: base, Embedded: emb != nil, SameProcess: emb != nil,
		Workload: WorkloadInfo{
			Collection: coll, Dim: vecs.Dim(), Metric: cfg.Metric, Preload: cfg.Preload, Mix: cfg.Mix.String(),
			K: cfg.K, Ef: cfg.Ef, FilterSelectivity: cfg.FilterSelectivity, FilterIndexed: cfg.filterIndexed(), InsertBatch: cfg.InsertBatch,
			Quantization: cfg.Quantization, Originals: cfg.Originals, Rerank: cfg.Rerank,
			Vectors: vecName, Seed: cfg.Seed, MaxWorkers: cfg.MaxWorkers,
		},
		SLO:     SLOResult{P99MS: ms(cfg.SLO.P99), SuccessPct: cfg.SLO.SuccessPct},
		Machine: machineInfo(),
	}
	say("preloading %d records of dimension %d into %q (%d per request, %d workers)", cfg.Preload, vecs.Dim(), coll, cfg.PreloadBatch, cfg.PreloadWorkers)
	if rep.Preload, err = preload(ctx, api, wl, coll, cfg.Preload, cfg.PreloadBatch, cfg.PreloadWorkers, progress); err != nil {
		return nil, err
	}
	if cfg.Quantization == "int8" {
		note, err := waitQuantization(ctx, api, coll, say)
		if err != nil {
			return nil, err
		}
		if note != "" {
			notes = append(notes, note)
		}
	}

	var pl *plot.Plot
	if cfg.PlotFile != "" {
		pl = plot.New(plot.Title("akidb loadtest"), plot.Downsample(4000), plot.Label(func(r *vegeta.Result) string {
			op, _ := wl.OpOf(r.Method, r.URL)
			if r.Error != "" {
				return string(op) + " error"
			}
			return string(op)
		}))
	}
	runner := &attackRunner{
		wl: wl, progress: progress, plot: pl,
		newAttacker: func() *vegeta.Attacker {
			return vegeta.NewAttacker(vegeta.Client(httpClient), vegeta.MaxWorkers(uint64(cfg.MaxWorkers)), vegeta.MaxBody(maxErrorBody))
		},
	}

	// The timed window: resources are read just before and just after it.
	before, beforeErr := api.scrapeProcess(ctx)
	cpu0, _, usageOK := selfUsage()
	wall0 := time.Now()
	var head *collector
	if cfg.Ramp == nil {
		rep.Mode, rep.TargetQPS, rep.Workload.DurationS = "constant", cfg.QPS, cfg.Duration.Seconds()
		say("load: %d qps for %s, mix %s", cfg.QPS, cfg.Duration, cfg.Mix)
		head = runner.attack(ctx, "load", cfg.QPS, cfg.Duration)
	} else {
		rep.Mode, rep.Workload.DurationS = "ramp", cfg.Ramp.Step.Seconds()
		head, rep.Ramp, rep.TargetQPS = runRamp(ctx, runner, *cfg.Ramp, cfg.SLO, say)
	}
	wall := time.Since(wall0)
	cpu1, peak, _ := selfUsage()
	after, afterErr := api.scrapeProcess(context.WithoutCancel(ctx))
	interrupted := ctx.Err() != nil

	rep.Summary = summarize(&head.overall)
	rep.ByOperation = map[string]Summary{}
	for op, m := range head.byOp {
		rep.ByOperation[string(op)] = summarize(m)
	}
	rep.Errors, rep.ErrorsOther = head.errs, head.other
	if rep.Errors == nil {
		rep.Errors = []ErrorCount{}
	}
	rep.SLO.Met, rep.SLO.Missed = evalSLO(rep.Summary, rep.TargetQPS, cfg.SLO)
	if rep.Mode == "constant" && rep.Rate < 0.95*float64(rep.TargetQPS) && rep.Requests > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the client sent %.1f of the %d qps asked for: the server is saturated or --max-workers (%d) is too low, so latencies are those of a slower load", rep.Rate, rep.TargetQPS, cfg.MaxWorkers))
	}
	rep.Notes = append(notes, rep.Notes...)
	if n := rep.StatusCodes["429"]; n > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d requests were refused with 429 (rate limited): the server's rate limit for this tenant or key is below the asked rate, so these figures measure the limit, not the capacity", n))
	}
	if interrupted {
		rep.Notes = append(rep.Notes, "interrupted: the figures cover the part of the load that ran")
	}
	switch {
	case beforeErr != nil || afterErr != nil:
		rep.Notes = append(rep.Notes, fmt.Sprintf("server resources not measured: %v", errors.Join(beforeErr, afterErr)))
	case before.HasCPU && after.HasCPU:
		cpuS := after.CPUSeconds - before.CPUSeconds
		rep.Server = &ProcessFigures{CPUSeconds: cpuS, CPUCores: cpuS / wall.Seconds(), RSSBytes: uint64(after.RSSBytes), RSSBytesBefore: uint64(before.RSSBytes)}
	default:
		rep.Notes = append(rep.Notes, "server resources not measured: /metrics has no process_cpu_seconds_total")
	}
	if usageOK && (emb == nil || rep.Server == nil) {
		cpuS := (cpu1 - cpu0).Seconds()
		rep.Client = &ProcessFigures{CPUSeconds: cpuS, CPUCores: cpuS / wall.Seconds(), RSSBytes: peak, RSSIsPeak: true}
	}

	if cfg.RecallSample > 0 && !interrupted {
		say("recall check: %d queries, approximate against exact (not timed)", cfg.RecallSample)
		mean, worst, rerr := checkRecall(ctx, api, wl, coll, cfg.K, cfg.RecallSample, min(4, cfg.MaxWorkers))
		if rerr != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("recall not measured: %v", rerr))
		} else {
			rep.RecallAtK = &mean
			rep.Recall = &RecallInfo{K: cfg.K, Queries: cfg.RecallSample, Filtered: cfg.FilterSelectivity > 0, Min: worst}
		}
	}

	var failed []ThresholdResult
	for _, t := range cfg.FailOn {
		res := t.check(rep)
		rep.Thresholds = append(rep.Thresholds, res)
		if res.Failed {
			failed = append(failed, res)
		}
	}

	if err := writeOutputs(cfg, rep, pl, stdout); err != nil {
		return rep, err
	}
	if interrupted {
		return rep, fmt.Errorf("load test interrupted: %w", context.Cause(ctx))
	}
	if len(failed) > 0 {
		return rep, &ThresholdError{Failed: failed}
	}
	return rep, nil
}

// runRamp runs the ramp's steps and returns the headline step's results.
func runRamp(ctx context.Context, runner *attackRunner, ramp Ramp, slo SLO, say func(string, ...any)) (*collector, *RampReport, int) {
	rr := &RampReport{Spec: ramp.String(), Start: ramp.Start, End: ramp.End, StepS: ramp.Step.Seconds(), Refine: ramp.Refine}
	var cols []*collector
	best, _ := ramp.search(ctx, func(ctx context.Context, rate int) (bool, error) {
		n := len(rr.Steps) + 1
		say("ramp step %d: %d qps for %s", n, rate, ramp.Step)
		col := runner.attack(ctx, fmt.Sprintf("step %d @ %d qps", n, rate), rate, ramp.Step)
		s := summarize(&col.overall)
		ok, missed := evalSLO(s, rate, slo)
		rr.Steps = append(rr.Steps, RampStep{
			TargetQPS: rate, Requests: s.Requests, Rate: s.Rate, Throughput: s.Throughput,
			SuccessRatio: s.SuccessRatio, P99MS: s.LatenciesMS.P99, Passed: ok, Missed: missed,
		})
		cols = append(cols, col)
		verdict := "met the SLO"
		if !ok {
			verdict = "missed the SLO: " + strings.Join(missed, "; ")
		}
		say("ramp step %d: %d qps %s", n, rate, verdict)
		return ok, ctx.Err()
	})
	rr.MaxQPS = best
	head := 0
	for i, s := range rr.Steps {
		if s.Passed && s.TargetQPS == best {
			head = i
		}
	}
	return cols[head], rr, rr.Steps[head].TargetQPS
}

func writeOutputs(cfg Config, rep *Report, pl *plot.Plot, stdout io.Writer) error {
	var err error
	if cfg.Output == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if cfg.OutFile != "" {
		if err := writeFile(cfg.OutFile, rep.WriteJSON); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if pl != nil {
		pl.Close()
		if err := writeFile(cfg.PlotFile, func(w io.Writer) error { _, err := pl.WriteTo(w); return err }); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// vectorSource builds the run's vectors and names them for the report.
func vectorSource(cfg Config) (VectorSource, string, error) {
	if cfg.VectorsFile == "" {
		c, err := NewClustered(cfg.Dim, cfg.Clusters, cfg.Seed)
		if err != nil {
			return nil, "", err
		}
		return c, fmt.Sprintf("clustered(%d)", cfg.Clusters), nil
	}
	m, err := dataset.Load(cfg.VectorsFile, 0)
	if err != nil {
		return nil, "", fmt.Errorf("--vectors: %w", err)
	}
	if cfg.Dim != 0 && cfg.Dim != m.Dim {
		return nil, "", fmt.Errorf("--dim %d, but %s has dimension %d (leave --dim out to use the file's)", cfg.Dim, cfg.VectorsFile, m.Dim)
	}
	if m.Dim > 8192 {
		return nil, "", fmt.Errorf("--vectors %s: dimension %d is over the server's limit of 8192", cfg.VectorsFile, m.Dim)
	}
	if cfg.Preload > m.N {
		return nil, "", fmt.Errorf("--preload %d, but %s has only %d rows", cfg.Preload, cfg.VectorsFile, m.N)
	}
	fv, err := NewFileVectors(m, cfg.Preload, cfg.Seed)
	if err != nil {
		return nil, "", fmt.Errorf("--vectors %s: %w", cfg.VectorsFile, err)
	}
	if cfg.Metric == "cosine" {
		if i := fv.firstZeroRow(); i >= 0 {
			return nil, "", fmt.Errorf("--vectors %s: row %d is the zero vector, which a cosine collection refuses (use --metric l2)", cfg.VectorsFile, i)
		}
	}
	return fv, cfg.VectorsFile, nil
}

func machineInfo() MachineInfo {
	mi := MachineInfo{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				mi.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return mi
}
