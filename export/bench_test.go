package export

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

// benchCollection is 20k x 512-d records with small metadata: about 40 MiB
// of vectors.
func benchCollection(b *testing.B) *engine.Collection {
	b.Helper()
	const dim, n = 512, 20_000
	c, err := engine.NewCollection(engine.CollectionConfig{Name: "bench", Dimension: dim, Metric: distance.Cosine, M: 8, EfConstruction: 40, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for start := 0; start < n; start += 1000 {
		recs := make([]engine.Record, 1000)
		for i := range recs {
			v := make([]float32, dim)
			for j := range v {
				v[j] = float32(rng.NormFloat64())
			}
			recs[i] = engine.Record{ID: fmt.Sprintf("doc-%07d", start+i), Vector: v, Metadata: map[string]any{"n": float64(start + i), "title": "a short title"}}
		}
		if err := c.Upsert(recs); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

// cpuNow is the process's user plus system CPU time. The machine the
// figures come from is shared, so wall time swings with other load; CPU
// time per operation is the steadier measure.
func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs op b.N times and reports CPU milliseconds per op.
func loop(b *testing.B, bytes int64, op func() error) {
	b.SetBytes(bytes)
	start := cpuNow(b)
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuNow(b)-start)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkExport compares the Parquet export of a collection with the
// native snapshot encoding of the same collection (the reference), in the
// same run. SetBytes is the vectors' size, so MB/s are comparable.
func BenchmarkExport(b *testing.B) {
	c := benchCollection(b)
	raw := int64(c.Count() * c.Config().Dimension * 4)
	b.Run("parquet", func(b *testing.B) {
		loop(b, raw, func() error {
			_, err := WriteParquet(context.Background(), io.Discard, c.View(), Options{})
			return err
		})
	})
	b.Run("snapshot", func(b *testing.B) {
		loop(b, raw, func() error { return c.EncodeState(io.Discard) })
	})
}
