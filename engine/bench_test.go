package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/wal"
)

// upserter is what the write benchmarks drive: the in-memory collection
// (no log) or a durable handle.
type upserter func(recs []Record) error

func benchVectors(n, dim int) [][]float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	return clustered(rng, n, dim)
}

// runWriters upserts b.N batches of batchSize distinct 512-d vectors from
// 8 goroutines and reports vectors/s. Every vector is distinct because
// repeated vectors make HNSW inserts slower the more copies there are, which
// would make runs of different b.N incomparable; run the variants with the
// same -benchtime Nx to compare them on the same work.
//
// The clock stops once every staged vector is linked into the graph (c's
// backlog is empty), so background linking is counted in full.
func runWriters(b *testing.B, c *Collection, up upserter, batchSize int) {
	vecs := benchVectors(b.N*batchSize, 512)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	cpu0, _ := processCPU()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]Record, batchSize)
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				for j := range batch {
					k := int(i)*batchSize + j
					batch[j] = Record{ID: strconv.Itoa(k), Vector: vecs[k]}
				}
				if err := up(batch); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	c.waitLinked()
	el := time.Since(start)
	b.ReportMetric(float64(b.N*batchSize)/el.Seconds(), "vectors/s")
	if cpu, ok := processCPU(); ok {
		b.ReportMetric((cpu-cpu0).Seconds()/el.Seconds(), "cores")
	}
}

// fsyncCounter counts the log's fsyncs, for the fsyncs-per-write figure.
type fsyncCounter struct {
	nopObserver
	n     atomic.Int64
	total atomic.Int64 // nanoseconds
}

func (f *fsyncCounter) WALFsync(d time.Duration) {
	f.n.Add(1)
	f.total.Add(int64(d))
}

func (f *fsyncCounter) report(b *testing.B, writes int) {
	n := f.n.Load()
	b.ReportMetric(float64(n)/float64(writes), "fsyncs/write")
	if n > 0 {
		b.ReportMetric(float64(f.total.Load())/float64(n)/1e3, "µs/fsync")
	}
}

// upsertWithoutLog is Handle.Upsert with the log taken out: the same
// staging, publication and background linking, no record, no fsync. It is
// the "WAL off" side of BenchmarkUpsert8Writers.
func upsertWithoutLog(c *Collection, recs []Record) error {
	b, err := c.PrepareUpsert(recs)
	if err != nil {
		return err
	}
	c.waitStageRoom(len(b.Records))
	end := c.BeginWrite()
	defer end()
	seq := c.takeSeq()
	ib := c.stageUpsert(b)
	if ib.err != nil {
		return ib.err
	}
	return c.publishUpsert(seq, ib)
}

// BenchmarkUpsert8Writers compares durable upserts (fsync=always, group
// commit) with the same upserts into a collection with no log at all.
func BenchmarkUpsert8Writers(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d/no-wal", batch), func(b *testing.B) {
			c, err := NewCollection(CollectionConfig{Name: "b", Dimension: 512, Metric: distance.L2})
			if err != nil {
				b.Fatal(err)
			}
			runWriters(b, c, func(r []Record) error { return upsertWithoutLog(c, r) }, batch)
		})
		for _, v := range []struct {
			name   string
			policy wal.SyncPolicy
			delay  time.Duration
		}{{"wal-always", wal.SyncAlways, 0}, {"wal-always-nodelay", wal.SyncAlways, -1}, {"wal-none", wal.SyncNone, 0}} {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, v.name), func(b *testing.B) {
				fsyncs := &fsyncCounter{}
				db, err := Open(b.TempDir(), Config{Sync: v.policy, CommitDelay: v.delay, CheckpointRecords: -1, CheckpointBytes: -1, Observer: fsyncs})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "b", Dimension: 512, Metric: distance.L2}); err != nil {
					b.Fatal(err)
				}
				h, _ := db.Collection(DefaultTenant, "b")
				fsyncs.n.Store(0) // the collection's creation is not part of the run
				fsyncs.total.Store(0)
				runWriters(b, h.c, func(r []Record) error { return h.Upsert(bg, r) }, batch)
				b.StopTimer()
				fsyncs.report(b, b.N)
			})
		}
	}
}

// BenchmarkRestart measures how long a data dir with AKIDB_BENCH_RESTART_N
// (default 100,000) 512-d vectors takes to open: newest snapshot plus the
// log after it (AKIDB_BENCH_RESTART_TAIL records, default 0).
func BenchmarkRestart(b *testing.B) {
	n := envInt("AKIDB_BENCH_RESTART_N", 100000)
	tail := envInt("AKIDB_BENCH_RESTART_TAIL", 0)
	dir := b.TempDir()
	db, err := Open(dir, Config{CheckpointRecords: -1, CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "r", Dimension: 512, Metric: distance.L2}); err != nil {
		b.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "r")
	load := func(from, to int) {
		var wg sync.WaitGroup
		var next atomic.Int64
		next.Store(int64(from))
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(from), uint64(w)))
				for {
					s := int(next.Add(500)) - 500
					if s >= to {
						return
					}
					batch := make([]Record, 0, 500)
					for i := s; i < min(s+500, to); i++ {
						v := make([]float32, 512)
						for j := range v {
							v[j] = float32(rng.NormFloat64())
						}
						batch = append(batch, Record{ID: strconv.Itoa(i), Vector: v})
					}
					if err := h.Upsert(bg, batch); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	load(0, n-tail)
	if err := h.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	load(n-tail, n)
	if err := db.closeWithoutCheckpoint(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		db, err := Open(dir, Config{CheckpointRecords: -1, CheckpointBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		h, _ := db.Collection(DefaultTenant, "r")
		if h.Count() != n {
			b.Fatalf("count %d", h.Count())
		}
		b.ReportMetric(el.Seconds(), "open_s")
		if tail > 0 {
			b.ReportMetric(float64(tail)/el.Seconds(), "replay_records/s(upper-bound)")
		}
		b.StopTimer()
		_ = db.closeWithoutCheckpoint()
		b.StartTimer()
	}
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkQueryDuringCreateDrop measures one tenant's query latency
// while another tenant creates, fills (10 vectors) and drops collections
// in a loop ("churn"), beside the same queries with no churn ("calm"):
// the default segment size, fsync=always, on the real filesystem. Each
// iteration is one query of k=10 over 2,000 vectors of 64 dimensions;
// p50/p99 are reported in microseconds. Run alternately, e.g.
// -bench QueryDuringCreateDrop -benchtime 20000x -count 3.
func BenchmarkQueryDuringCreateDrop(b *testing.B) {
	for _, churn := range []bool{false, true} {
		name := "calm"
		if churn {
			name = "churn"
		}
		b.Run(name, func(b *testing.B) {
			db, other := twoTenants(b, Config{}, 2000, 64)
			defer db.Close()
			var cycles atomic.Int64
			stop := func() error { return nil }
			if churn {
				stop = background(1, func(_, i int) error {
					n := fmt.Sprint("churn-", i)
					if _, err := db.CreateCollection(bg, other, CollectionConfig{Name: n, Dimension: 64, Metric: distance.L2}); err != nil {
						return err
					}
					if c, err := db.Collection(other, n); err == nil {
						_ = c.Upsert(bg, recs(n, 0, 10, 64))
					}
					cycles.Add(1)
					return db.DropCollection(bg, other, n)
				})
			}
			lat := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				hq, err := db.Collection(DefaultTenant, "q")
				if err == nil {
					_, err = hq.Search(bg, SearchRequest{Vector: vectorFor(fmt.Sprint("r-", i%2000), 64), K: 10})
				}
				lat[i] = time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := stop(); err != nil {
				b.Fatal(err)
			}
			reportPercentiles(b, "query", lat)
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "query-max-µs")
			if churn {
				b.ReportMetric(float64(cycles.Load()), "create-drops")
			}
		})
	}
}

// BenchmarkUpsertDuringExactScans measures one-record upserts (fsync=always)
// into a collection of 100,000 x 128-d vectors: with no scans ("calm"),
// while two goroutines run exact scans of it (k=10) to the end ("scans"),
// and while they run them with a 2 ms deadline each ("scans-2ms"). It
// reports the upserts' p50/p99 and, for the scans with a deadline, how
// long after it a scan returned (p50/p99). Scans hold no lock the writers
// need; with a deadline they stop at their next check. Run alternately,
// e.g. -bench UpsertDuringExactScans -benchtime 2000x -count 3.
func BenchmarkUpsertDuringExactScans(b *testing.B) {
	h, vecs := scanCollection(b)
	for _, mode := range []struct {
		name     string
		scans    bool
		deadline time.Duration
	}{{"calm", false, 0}, {"scans", true, 0}, {"scans-2ms", true, 2 * time.Millisecond}} {
		b.Run(mode.name, func(b *testing.B) {
			var mu sync.Mutex
			var late []time.Duration
			var stopped, finished int
			stop := func() error { return nil }
			if mode.scans {
				stop = background(2, func(_, i int) error {
					ctx, cancel := bg, context.CancelFunc(func() {})
					if mode.deadline > 0 {
						ctx, cancel = context.WithTimeout(bg, mode.deadline)
					}
					defer cancel()
					_, err := h.Search(ctx, SearchRequest{Vector: vecs[(i*7919)%len(vecs)], K: 10, Exact: true})
					done := time.Now()
					mu.Lock()
					defer mu.Unlock()
					switch {
					case errors.Is(err, context.DeadlineExceeded):
						deadline, _ := ctx.Deadline()
						stopped++
						late = append(late, done.Sub(deadline))
					case err == nil:
						finished++
					default:
						return err
					}
					return nil
				})
			}
			lat := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				id := fmt.Sprint("w-", mode.name, "-", i)
				if err := h.Upsert(bg, []Record{{ID: id, Vector: vecs[i%len(vecs)]}}); err != nil {
					b.Fatal(err)
				}
				lat[i] = time.Since(t0)
			}
			b.StopTimer()
			if err := stop(); err != nil {
				b.Fatal(err)
			}
			reportPercentiles(b, "upsert", lat)
			if mode.scans {
				reportPercentiles(b, "scan-late", late)
				b.ReportMetric(float64(stopped), "scans-stopped")
				b.ReportMetric(float64(finished), "scans-finished")
			}
		})
	}
}

// scanCollection is a durable collection of 100,000 x 128-d vectors for
// the scan benchmarks, with a sparse graph (it builds fast; an exact scan
// does not use it), and its vectors.
func scanCollection(b *testing.B) (*Handle, [][]float32) {
	db := openTestDB(b, b.TempDir(), Config{CheckpointRecords: -1})
	b.Cleanup(func() { db.Close() })
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "s", Dimension: 128, Metric: distance.L2, M: 4, EfConstruction: 8}); err != nil {
		b.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "s")
	vecs := benchVectors(100_000, 128)
	for i := 0; i < len(vecs); i += 1000 {
		batch := make([]Record, 0, 1000)
		for j := i; j < i+1000; j++ {
			batch = append(batch, Record{ID: strconv.Itoa(j), Vector: vecs[j]})
		}
		if err := h.Upsert(bg, batch); err != nil {
			b.Fatal(err)
		}
	}
	h.WaitIndexed()
	return h, vecs
}

// BenchmarkExactScanDeadline runs exact scans (k=10) of 100,000 x 128-d
// vectors one at a time with a deadline a twentieth of the fastest of five
// whole scans, and reports how long after its deadline each stopped
// (p50/p99), beside the median whole scan (full-scan-ms, the reference)
// and how many scans finished before their deadline anyway.
func BenchmarkExactScanDeadline(b *testing.B) {
	h, vecs := scanCollection(b)
	var full []time.Duration
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		if _, err := h.Search(bg, SearchRequest{Vector: vecs[i], K: 10, Exact: true}); err != nil {
			b.Fatal(err)
		}
		full = append(full, time.Since(t0))
	}
	slices.Sort(full)
	deadline := full[0] / 20
	late := make([]time.Duration, 0, b.N)
	finished := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(bg, deadline)
		_, err := h.Search(ctx, SearchRequest{Vector: vecs[(i*7919)%len(vecs)], K: 10, Exact: true})
		at, _ := ctx.Deadline()
		done := time.Now()
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			late = append(late, done.Sub(at))
		case err == nil:
			finished++
		default:
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(full[len(full)/2].Microseconds())/1000, "full-scan-ms")
	b.ReportMetric(float64(finished), "finished")
	reportPercentiles(b, "late", late)
}

// reportPercentiles reports p50 and p99 of ds in microseconds.
func reportPercentiles(b *testing.B, what string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), what+"-p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), what+"-p99-µs")
}
