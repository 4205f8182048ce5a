package annengine

import (
	"context"
	"testing"

	"github.com/akidb/akidb/bench/ann"
	"github.com/akidb/akidb/bench/dataset"
	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

// TestMNISTSubsetRecall builds the engine on the first 10,000 MNIST
// training images and checks recall@10 at ef=64 on 500 test images against
// the exact answer. Single-threaded and seeded, so the graph and the
// figure are the same on every run.
func TestMNISTSubsetRecall(t *testing.T) {
	train, test, err := dataset.MNISTFiles()
	if err != nil {
		t.Fatal(err)
	}
	base, err := dataset.ReadIDX(train, 10000)
	if err != nil {
		t.Fatal(err)
	}
	queries, err := dataset.ReadIDX(test, 500)
	if err != nil {
		t.Fatal(err)
	}
	col, err := engine.NewCollection(engine.CollectionConfig{Name: "mnist", Dimension: base.Dim, Metric: distance.L2, M: 16, EfConstruction: 200, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ann.Run(context.Background(), NewIndex(col), base, queries, nil, ann.Config{
		K: 10, Efs: []int{64}, Threads: 1, Metric: "l2", M: 16, EfConstruction: 200, ExactQueries: 50, WarmupQueries: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	t.Logf("MNIST 10k: recall@10 at ef=64 = %.4f, exact recall %.4f, build %.2fs", r.Recall, rep.Exact.Recall, r.BuildS)
	if r.Recall < 0.97 {
		t.Fatalf("recall@10 at ef=64 is %.4f, want >= 0.97", r.Recall)
	}
	if rep.Exact.Recall < 0.9999 {
		t.Fatalf("exact search recall %.4f, want 1", rep.Exact.Recall)
	}
}
