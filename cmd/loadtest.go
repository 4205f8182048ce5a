package cmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/bench/loadtest"
)

func newLoadtestCommand(c *cli) *cobra.Command {
	def := loadtest.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "loadtest",
		Short: "Measure what a server sustains: constant rate or an SLO ramp, with a recall check",
		Long: `Send a realistic mix of requests at a fixed rate (--qps for --duration) or a ramp
that finds the highest rate meeting an SLO (--ramp start:end:step with
--slo-p99/--slo-success: the rate doubles from start, capped at end, while each
step meets the SLO, then --ramp-refine bisection steps narrow the answer).

Without --target it starts an embedded server on 127.0.0.1 with a temporary data
directory, so it works out of the box and the load stays on loopback; the
embedded server and the load generator are then one process, and the report says
so. With --target it loads a running server (--api-key or AKIDB_API_KEY for
credentials, --ca/--insecure for TLS).

Before the timed load a collection is created and preloaded (--preload, --dim;
vectors from a seeded clustered distribution or --vectors FILE.fvecs). After it,
--recall-sample queries are compared with the server's exact search, so a fast
but wrong server cannot pass. The report gives requests, success ratio,
throughput, latency percentiles per operation, status codes, errors, recall@k and
server/client CPU and memory. --fail-on conditions exit with status 3.`,
		Example: `  akidb loadtest --qps 1000 --duration 60s
  akidb loadtest --qps 500 --duration 10s --dim 128 --preload 10000
  akidb loadtest --ramp 100:2000:30s --slo-p99 10ms --slo-success 99.9
  akidb loadtest --dim 512 --preload 100000 --mix query=70,insert=20,get=5,list=5 --filter-selectivity 0.1
  akidb loadtest --target https://db.local:8080 --api-key $KEY --ca ca.pem --qps 200 \
      --fail-on 'p99>10ms,success<99.9,recall<0.95' --out report.json --plot latency.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadtestConfig(c, cmd)
			if err != nil {
				return err
			}
			_, err = loadtest.Run(cmd.Context(), cfg, c.st.Stdout, c.st.Stderr, c.logger)
			var te *loadtest.ThresholdError
			if errors.As(err, &te) {
				fmt.Fprintf(c.st.Stderr, "akidb loadtest: %v\n", te)
				return &exitError{code: 3}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.String("target", "", "URL of a running server (http:// or https://); empty starts an embedded server on loopback")
	addAPIKeyFlags(f, "API key sent as 'Authorization: Bearer' to --target (also AKIDB_API_KEY)")
	f.Bool("insecure", false, "do not verify the --target's TLS certificate")
	f.String("ca", "", "PEM file of CA certificates to trust for an https --target")
	f.Int("qps", def.QPS, "constant request rate (requests per second)")
	f.Duration("duration", def.Duration, "how long the constant-rate load lasts")
	f.String("ramp", "", "start:end:step, e.g. 100:2000:30s: find the highest rate meeting the SLO (doubling, then bisection)")
	f.Int("ramp-refine", loadtest.DefaultRampRefine, "bisection steps after the first ramp step that misses the SLO")
	f.Duration("slo-p99", 0, "SLO: p99 latency at most this (0: no latency objective)")
	f.Float64("slo-success", def.SLO.SuccessPct, "SLO: at least this percentage of requests succeed")
	f.Int("dim", def.Dim, "vector dimension (with --vectors: the file's unless given)")
	f.Int("preload", def.Preload, "records inserted before the timed load")
	f.Int("preload-batch", def.PreloadBatch, "records per preload insert request")
	f.Int("preload-workers", def.PreloadWorkers, "concurrent preload requests")
	f.String("metric", def.Metric, "collection metric: cosine, l2 or dot")
	f.Int("m", def.M, "HNSW links per node of the load's collection")
	f.Int("ef-construction", def.EfConstruction, "HNSW build beam width of the load's collection")
	f.Int("clusters", def.Clusters, "clusters of the generated vector distribution")
	f.String("vectors", "", "take vectors from this .fvecs/.bvecs file instead of generating them")
	f.String("collection", "", "name of the load's collection (default: loadtest-<time>)")
	f.Bool("keep", false, "with --target, keep the load's collection after the run")
	f.String("mix", loadtest.DefaultMix, "operation shares: query, insert, get, list, delete, create-drop")
	f.Int("k", def.K, "neighbours per query (and recall@k)")
	f.Int("ef", 0, "search beam width per query (0: the server's default)")
	f.String("quantization", "none", "the load's collection's quantization: none or int8 (the load starts once the server reports it ready)")
	f.String("originals", "memory", "with --quantization int8, where the float32 vectors live: memory or disk")
	f.Int("rerank", 0, "with --quantization int8, candidates each query re-ranks with the float32 vectors (0: ef)")
	f.Float64("filter-selectivity", 0, "fraction (0..1] of records each query's metadata filter matches; 0: no filter")
	f.Bool("filter-index", def.FilterIndex, "with --filter-selectivity, create the collection with an integer payload index on the filtered field (false: filters read every record's metadata)")
	f.Int("insert-batch", def.InsertBatch, "records per insert request of the load")
	f.Uint64("seed", def.Seed, "seed of the vectors and of the request sequence")
	f.Int("recall-sample", def.RecallSample, "queries checked against exact search after the load (0: skip)")
	f.Duration("timeout", def.Timeout, "timeout of each request")
	f.Int("max-workers", def.MaxWorkers, "most requests in flight at once")
	f.String("output", def.Output, "report format on stdout: text or json")
	f.String("out", "", "also write the JSON report to this file")
	f.String("plot", "", "write an HTML latency plot (vegeta) to this file")
	f.String("fail-on", "", "exit 3 when any holds, e.g. 'p99>10ms,success<99.9,recall<0.95,throughput<500,insert.p99>50ms'")
	f.Bool("quiet", false, "no progress lines on stderr")
	return cmd
}

// loadtestConfig turns the layered settings into loadtest.Config.
func loadtestConfig(c *cli, cmd *cobra.Command) (loadtest.Config, error) {
	v := c.v
	var err error
	cfg := loadtest.DefaultConfig()
	cfg.Version = version
	cfg.Target = v.GetString("target")
	if cfg.APIKey, err = apiKey(c, cmd); err != nil {
		return cfg, err
	}
	cfg.Insecure = v.GetBool("insecure")
	cfg.CAFile = v.GetString("ca")
	cfg.QPS = v.GetInt("qps")
	cfg.Duration = v.GetDuration("duration")
	if spec := v.GetString("ramp"); spec != "" {
		if cmd.Flags().Changed("qps") || cfg.QPS != loadtest.DefaultQPS {
			return cfg, fmt.Errorf("--qps and --ramp exclude each other: a ramp sets its own rates")
		}
		if cmd.Flags().Changed("duration") || cfg.Duration != loadtest.DefaultDuration {
			return cfg, fmt.Errorf("--duration applies to --qps; a ramp's step length is its third field (100:2000:30s)")
		}
		ramp, err := loadtest.ParseRamp(spec)
		if err != nil {
			return cfg, fmt.Errorf("--ramp %w", err)
		}
		ramp.Refine = v.GetInt("ramp-refine")
		cfg.Ramp = &ramp
	}
	cfg.SLO = loadtest.SLO{P99: v.GetDuration("slo-p99"), SuccessPct: v.GetFloat64("slo-success")}
	cfg.VectorsFile = v.GetString("vectors")
	cfg.Dim = v.GetInt("dim")
	if cfg.VectorsFile != "" && !cmd.Flags().Changed("dim") && v.GetInt("dim") == loadtest.DefaultDim {
		cfg.Dim = 0 // the file's
	}
	cfg.Preload = v.GetInt("preload")
	cfg.PreloadBatch = v.GetInt("preload-batch")
	cfg.PreloadWorkers = v.GetInt("preload-workers")
	cfg.Metric = v.GetString("metric")
	cfg.M = v.GetInt("m")
	cfg.EfConstruction = v.GetInt("ef-construction")
	cfg.Clusters = v.GetInt("clusters")
	cfg.Collection = v.GetString("collection")
	cfg.Keep = v.GetBool("keep")
	cfg.Quantization = v.GetString("quantization")
	cfg.Originals = v.GetString("originals")
	cfg.Rerank = v.GetInt("rerank")
	mix, err := loadtest.ParseMix(v.GetString("mix"))
	if err != nil {
		return cfg, fmt.Errorf("--mix: %w", err)
	}
	cfg.Mix = mix
	cfg.K = v.GetInt("k")
	cfg.Ef = v.GetInt("ef")
	cfg.FilterSelectivity = v.GetFloat64("filter-selectivity")
	cfg.FilterIndex = v.GetBool("filter-index")
	cfg.InsertBatch = v.GetInt("insert-batch")
	cfg.Seed = v.GetUint64("seed")
	cfg.RecallSample = v.GetInt("recall-sample")
	cfg.Timeout = v.GetDuration("timeout")
	cfg.MaxWorkers = v.GetInt("max-workers")
	cfg.Output = v.GetString("output")
	cfg.OutFile = v.GetString("out")
	cfg.PlotFile = v.GetString("plot")
	cfg.Quiet = v.GetBool("quiet")
	if cfg.FailOn, err = loadtest.ParseFailOn(v.GetString("fail-on")); err != nil {
		return cfg, fmt.Errorf("--fail-on %w", err)
	}
	return cfg, cfg.Validate()
}
