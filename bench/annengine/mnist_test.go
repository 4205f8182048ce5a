package annengine

import (
	"context"
	"testing"

	"github.com/akidb/akidb/bench/ann"
	"github.com/akidb/akidb/bench/dataset"
	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/wal"
)

// TestMNISTSubsetRecall builds the engine on the first 10,000 MNIST
// training images and checks recall@10 at ef=64 on 500 test images against
// the exact answer. Single-threaded and seeded, so the graph and the
// figure are the same on every run.
func TestMNISTSubsetRecall(t *testing.T) {
	base, queries := mnistSubset(t, 10000, 500)
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

// TestMNISTSubsetRecallInt8 is TestMNISTSubsetRecall on an int8
// collection, with its originals in memory and on disk: searches traverse
// the codes (checked) and re-rank ef candidates, and must reach the same
// bar. MNIST's pixels are integers 0..255, which collection ranges encode
// exactly, so the codes lose nothing here; the figure is about the
// traversal, the re-rank and (on disk) reading the vectors file.
func TestMNISTSubsetRecallInt8(t *testing.T) {
	base, queries := mnistSubset(t, 10000, 300)
	for _, originals := range []string{engine.OriginalsMemory, engine.OriginalsDisk} {
		t.Run(originals, func(t *testing.T) {
			col, err := engine.NewCollection(engine.CollectionConfig{Name: "mnist", Dimension: base.Dim, Metric: distance.L2, M: 16, EfConstruction: 200, Seed: 1,
				Quantization: engine.Quantization{Type: engine.QuantInt8, Originals: originals}})
			if err != nil {
				t.Fatal(err)
			}
			col.SetVectorsDir(wal.OSFS{}, t.TempDir())
			defer col.CloseQuantization()
			rep, err := ann.Run(context.Background(), NewIndex(col), base, queries, nil, ann.Config{
				K: 10, Efs: []int{64}, Threads: 1, Metric: "l2", M: 16, EfConstruction: 200, ExactQueries: 20, WarmupQueries: -1,
			})
			if err != nil {
				t.Fatal(err)
			}
			st := col.QuantizationStatus()
			if !st.Traversing || st.OriginalsOnDisk != (originals == engine.OriginalsDisk) || st.TrainedOn < 10000 {
				t.Fatalf("quantization %+v", st)
			}
			r := rep.Results[0]
			t.Logf("MNIST 10k int8 (%s): recall@10 at ef=64 = %.4f, %s ranges, mem %.1f MiB", originals, r.Recall, st.RangesInUse, float64(rep.MemBytes)/(1<<20))
			if r.Recall < 0.97 {
				t.Fatalf("recall@10 at ef=64 is %.4f, want >= 0.97", r.Recall)
			}
			if rep.Exact.Recall < 0.9999 {
				t.Fatalf("exact search recall %.4f, want 1", rep.Exact.Recall)
			}
		})
	}
}

// mnistSubset reads the first n training images and q test images.
func mnistSubset(t *testing.T, n, q int) (base, queries dataset.Matrix) {
	t.Helper()
	train, test, err := dataset.MNISTFiles()
	if err != nil {
		t.Fatal(err)
	}
	if base, err = dataset.ReadIDX(train, n); err != nil {
		t.Fatal(err)
	}
	if queries, err = dataset.ReadIDX(test, q); err != nil {
		t.Fatal(err)
	}
	return base, queries
}
