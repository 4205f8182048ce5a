package s3_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/tier/s3/s3test"
)

// The tier's benchmarks, against a real MinIO server on 127.0.0.1
// (docs/performance.md has the figures and the commands):
//
//	go test -run '^$' -bench BenchmarkMemoryS3Writes -benchtime 1x -timeout 60m ./engine/tier/s3/
//	go test -run '^$' -bench BenchmarkRestoreFromMinIO -benchtime 1x -timeout 60m ./engine/tier/s3/

func benchEnv(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func randomVectors(n, dim int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		out[i] = v
	}
	return out
}

// writeRun upserts vecs one vector per call from 8 writers and returns the
// acknowledged vectors per second; with a tier it also samples the ship
// lag every 250 ms while the writers run.
func writeRun(b *testing.B, db *engine.DB, h *engine.Handle, vecs [][]float32) (rate float64, lags []time.Duration) {
	var next atomic.Int64
	var wg sync.WaitGroup
	done := make(chan struct{})
	var sampler sync.WaitGroup
	if t := db.Tier(); t != nil {
		sampler.Go(func() {
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if st, ok := t.CollectionStatus(h.Info().ID); ok {
						lags = append(lags, st.ShipLag)
					}
				}
			}
		})
	}
	start := time.Now()
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(vecs)) {
					return
				}
				if err := h.Upsert(context.Background(), []engine.Record{{ID: strconv.Itoa(int(i)), Vector: vecs[i]}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	close(done)
	sampler.Wait()
	return float64(len(vecs)) / el.Seconds(), lags
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// BenchmarkMemoryS3Writes compares acknowledged write throughput of a
// memory-s3 collection shipping to MinIO with a memory one, 8 writers of
// single 512-d vectors (fsync=always), in alternating rounds, and reports
// the median ratio and the ship lag under that load. AKIDB_BENCH_RECORDS
// (default 60000) records per round, AKIDB_BENCH_ROUNDS (default 3)
// rounds; a checkpoint falls in each round (every 50000 records), so a
// snapshot upload overlaps the writes.
func BenchmarkMemoryS3Writes(b *testing.B) {
	n := benchEnv("AKIDB_BENCH_RECORDS", 60000)
	rounds := benchEnv("AKIDB_BENCH_ROUNDS", 3)
	srv := s3test.Start(b)
	vecs := randomVectors(n, 512, 1)
	var ratios []float64
	var allLags []time.Duration
	for r := 0; r < rounds; r++ {
		var rate [2]float64
		for i, tiered := range []bool{false, true} {
			cfg := engine.Config{}
			policy := engine.TierMemory
			if tiered {
				store := srv.Store(b, fmt.Sprintf("bench-%d", r))
				cfg.Tier = &engine.TierConfig{Tier: tier.Config{Store: store, Prefix: "bench"}, ShutdownShipTimeout: -1}
				policy = engine.TierMemoryS3
			}
			db, err := engine.Open(b.TempDir(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := db.CreateCollection(context.Background(), engine.DefaultTenant, engine.CollectionConfig{Name: "w", Dimension: 512, Metric: distance.L2, TierPolicy: policy}); err != nil {
				b.Fatal(err)
			}
			h, _ := db.Collection(engine.DefaultTenant, "w")
			var lags []time.Duration
			rate[i], lags = writeRun(b, db, h, vecs)
			if tiered {
				// How long the store takes to catch up once the writes stop.
				start := time.Now()
				deadline := time.NewTimer(10 * time.Minute)
				tick := time.NewTicker(50 * time.Millisecond)
				for {
					st, _ := db.Tier().CollectionStatus(h.Info().ID)
					if st.ShippedSeq >= st.DurableSeq {
						break
					}
					select {
					case <-deadline.C:
						b.Fatalf("not shipped after 10 minutes: %+v", st)
					case <-tick.C:
					}
				}
				deadline.Stop()
				tick.Stop()
				b.Logf("round %d memory-s3: %.0f vectors/s, ship lag p50 %v p95 %v max %v, caught up %v after the last write",
					r, rate[i], percentile(lags, .5).Round(time.Millisecond), percentile(lags, .95).Round(time.Millisecond),
					percentile(lags, 1).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
				allLags = append(allLags, lags...)
			} else {
				b.Logf("round %d memory:    %.0f vectors/s", r, rate[i])
			}
			h.WaitIndexed()
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		}
		ratios = append(ratios, rate[1]/rate[0])
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "median_ratio(s3/memory)")
	b.ReportMetric(percentile(allLags, .5).Seconds(), "ship_lag_p50_s")
	b.ReportMetric(percentile(allLags, .95).Seconds(), "ship_lag_p95_s")
	b.ReportMetric(percentile(allLags, 1).Seconds(), "ship_lag_max_s")
	b.Logf("ratios %v", ratios)
}

// BenchmarkRestoreFromMinIO ships a collection of AKIDB_BENCH_RESTORE_N
// (default 100000) 512-d vectors to MinIO (a snapshot, and
// AKIDB_BENCH_RESTORE_TAIL records, default 10000, of log after it), then
// times `akidb restore` of it onto a fresh directory.
func BenchmarkRestoreFromMinIO(b *testing.B) {
	n := benchEnv("AKIDB_BENCH_RESTORE_N", 100000)
	tail := benchEnv("AKIDB_BENCH_RESTORE_TAIL", 10000)
	srv := s3test.Start(b)
	store := srv.Store(b, "restore-bench")
	db, err := engine.Open(b.TempDir(), engine.Config{CheckpointRecords: -1, CheckpointBytes: -1,
		Tier: &engine.TierConfig{Tier: tier.Config{Store: store, Prefix: "bench"}, NoBackground: true, ShutdownShipTimeout: -1}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.CreateCollection(context.Background(), engine.DefaultTenant, engine.CollectionConfig{Name: "r", Dimension: 512, Metric: distance.L2, TierPolicy: engine.TierMemoryS3}); err != nil {
		b.Fatal(err)
	}
	h, _ := db.Collection(engine.DefaultTenant, "r")
	vecs := randomVectors(n, 512, 2)
	load := func(from, to int) {
		for s := from; s < to; s += 500 {
			batch := make([]engine.Record, 0, 500)
			for i := s; i < min(s+500, to); i++ {
				batch = append(batch, engine.Record{ID: strconv.Itoa(i), Vector: vecs[i]})
			}
			if err := h.Upsert(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	load(0, n-tail)
	if err := h.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	load(n-tail, n)
	if err := db.Tier().ShipOnce(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		start := time.Now()
		res, err := engine.Restore(context.Background(), dir, engine.Config{}, engine.RestoreOptions{Store: store, Prefix: "bench", Name: "r"})
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		if res.Records != n {
			b.Fatalf("restored %d records of %d", res.Records, n)
		}
		b.ReportMetric(el.Seconds(), "restore_s")
		b.ReportMetric(float64(res.Bytes)/el.Seconds()/(1<<20), "MiB/s")
		b.Logf("restore: %d records, snapshot at %d, %d log records replayed, %d bytes downloaded; %v (download and verify %v, open %v)",
			res.Records, res.SnapshotSeq, res.Replayed, res.Bytes, el.Round(time.Millisecond), res.Download.Round(time.Millisecond), res.Open.Round(time.Millisecond))
	}
}
