package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/tier/s3/s3test"
)

// The cold-collection benchmarks (docs/performance.md has the figures and
// docs/tiering.md what they mean). Each builds a data directory in this
// process, ships it to a real MinIO on 127.0.0.1, then runs `akidb serve`
// on it as a child process (this test binary re-executed), so the RSS
// measured is the server's alone, and queries it over REST:
//
//	go test -run '^$' -bench BenchmarkColdHit -benchtime 1x -timeout 90m ./cmd/
//	go test -run '^$' -bench BenchmarkEdgeSkewed -benchtime 1x -timeout 90m ./cmd/

const benchBucket = "cold-bench"

func benchInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchVectors(rng *rand.Rand, n, dim int) [][]float32 {
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

// buildCollection fills a collection with n random dim-d vectors (bulk,
// two linkers) and checkpoints it.
func buildCollection(b *testing.B, db *engine.DB, name string, n, dim int, policy string, seed uint64) {
	b.Helper()
	if _, err := db.CreateCollection(context.Background(), engine.DefaultTenant, engine.CollectionConfig{Name: name, Dimension: dim, Metric: distance.L2, TierPolicy: policy}); err != nil {
		b.Fatal(err)
	}
	h, _ := db.Collection(engine.DefaultTenant, name)
	rng := rand.New(rand.NewPCG(seed, 3))
	for i := 0; i < n; i += 1000 {
		vs := benchVectors(rng, min(1000, n-i), dim)
		recs := make([]engine.Record, len(vs))
		for j, v := range vs {
			recs[j] = engine.Record{ID: strconv.Itoa(i + j), Vector: v}
		}
		if err := h.UpsertBulk(context.Background(), recs, 2); err != nil {
			b.Fatal(err)
		}
	}
	if err := h.Checkpoint(); err != nil {
		b.Fatal(err)
	}
}

// rssOf reads a process's resident set size.
func rssOf(pid int) int64 { return procStatus(pid, "VmRSS") }

// procStatus reads one size field of /proc/PID/status (VmRSS, RssAnon,
// RssFile) in bytes.
func procStatus(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// rssParts says what the resident set is made of: anonymous memory (the
// heap) and file pages (the binary, SQLite's maps).
func rssParts(pid int) string {
	return fmt.Sprintf("%s (anon %s, file %s)", mib(procStatus(pid, "VmRSS")), mib(procStatus(pid, "RssAnon")), mib(procStatus(pid, "RssFile")))
}

type benchClient struct {
	b    *testing.B
	base string
	c    *http.Client
}

func (c benchClient) do(method, path string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.c.Do(req)
	if err != nil {
		c.b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (c benchClient) must(method, path string, body any) []byte {
	code, raw := c.do(method, path, body)
	if code/100 != 2 {
		c.b.Fatalf("%s %s: %d %s", method, path, code, raw)
	}
	return raw
}

// query times one query of a random vector.
func (c benchClient) query(name string, rng *rand.Rand, dim int) time.Duration {
	v := benchVectors(rng, 1, dim)[0]
	start := time.Now()
	c.must("POST", "/api/v1/collections/"+name+"/query", map[string]any{"vector": v, "k": 10})
	return time.Since(start)
}

// state reads a collection's load state from the storage status.
func (c benchClient) state(name string) (string, float64, int64) {
	var st struct {
		Memory struct {
			S3CacheBytes int64 `json:"s3_cache_bytes"`
		} `json:"memory"`
		Collections []struct {
			Name      string  `json:"name"`
			LoadState string  `json:"load_state"`
			LastLoad  float64 `json:"last_load_seconds"`
		} `json:"collections"`
	}
	_ = json.Unmarshal(c.must("GET", "/admin/storage/status", nil), &st)
	for _, x := range st.Collections {
		if x.Name == name {
			return x.LoadState, x.LastLoad, st.Memory.S3CacheBytes
		}
	}
	return "", 0, st.Memory.S3CacheBytes
}

func pct50(ds []time.Duration) time.Duration { return pct(ds, .5) }

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

func serveFlags(srv *s3test.Server, more ...string) []string {
	return append([]string{"--auth=false", "--s3-endpoint", srv.Endpoint(), "--s3-bucket", benchBucket, "--s3-prefix", "bench",
		"--request-timeout", "10m", "--checkpoint-records", "-1", "--checkpoint-bytes", "-1"}, more...)
}

func s3Env() []string {
	return []string{"AKIDB_S3_ACCESS_KEY=" + s3test.AccessKey, "AKIDB_S3_SECRET_KEY=" + s3test.SecretKey}
}

// cpuOf is a process's CPU time so far (user and system), from
// /proc/PID/stat (clock ticks of 1/100 s). Unlike wall time it hardly
// moves with what else runs on a shared machine.
func cpuOf(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	_, rest, _ := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// preparedDir gives a benchmark its data directory: built by build, or,
// when AKIDB_BENCH_DATA names a directory that holds one built before
// under key, a copy of that (saving a build of many minutes between
// runs). Either way every collection is then made memory-s3 and shipped
// to store afresh (the tier's local state is removed: the store is new).
func preparedDir(b *testing.B, key string, store tier.ObjectStore, build func(dir string)) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "data")
	keep := os.Getenv("AKIDB_BENCH_DATA")
	kept := filepath.Join(keep, key)
	if _, err := os.Stat(kept); keep != "" && err == nil {
		if out, err := exec.Command("cp", "-a", kept, dir).CombinedOutput(); err != nil {
			b.Fatalf("copy %s: %v %s", kept, err, out)
		}
		b.Logf("reused the data directory built before in %s", kept)
	} else {
		build(dir)
		if keep != "" {
			if out, err := exec.Command("cp", "-a", dir, kept).CombinedOutput(); err != nil {
				b.Fatalf("keep %s: %v %s", kept, err, out)
			}
		}
	}
	tiers, _ := filepath.Glob(filepath.Join(dir, "collections", "*", "tier"))
	for _, t := range tiers {
		if err := os.RemoveAll(t); err != nil {
			b.Fatal(err)
		}
	}
	// A budget, so that closing marks the collections cold: a server with
	// a budget then starts with none of them in memory.
	db, err := engine.Open(dir, engine.Config{CheckpointRecords: -1, CheckpointBytes: -1,
		Tier: &engine.TierConfig{Tier: tier.Config{Store: store, Prefix: "bench"}, NoBackground: true, ShutdownShipTimeout: -1, MemoryBudget: 1}})
	if err != nil {
		b.Fatal(err)
	}
	for _, info := range db.ListCollections("") {
		if _, err := db.SetTierPolicy(context.Background(), info.TenantID, info.Name, engine.TierMemoryS3); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Tier().ShipOnce(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkColdHit: a collection of AKIDB_BENCH_COLD_N (default 100000)
// 512-d vectors is evicted and hit again, AKIDB_BENCH_ROUNDS (default 3)
// rounds alternating a load from the local snapshot (memory-s3) and one
// from MinIO (s3-only with --s3-cache-bytes 0, its local snapshot
// dropped); the reference is the warm query latency measured in the same
// rounds. It reports the server's RSS with the collection in memory and
// after its eviction, the load times and the latency of the cold hit.
func BenchmarkColdHit(b *testing.B) {
	n, rounds, dim := benchInt("AKIDB_BENCH_COLD_N", 100000), benchInt("AKIDB_BENCH_ROUNDS", 3), 512
	srv := s3test.Start(b)
	store := srv.Store(b, benchBucket)
	start := time.Now()
	dir := preparedDir(b, fmt.Sprintf("cold-%d", n), store, func(dir string) {
		db, err := engine.Open(dir, engine.Config{CheckpointRecords: -1, CheckpointBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		buildCollection(b, db, "big", n, dim, engine.TierMemory, 1)
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	})
	b.Logf("built (or copied) and shipped %d x %d in %v", n, dim, time.Since(start).Round(time.Second))

	child := startServeChildWith(b, dir, serveFlags(srv, "--s3-cache-bytes", "0"), s3Env())
	pid := child.cmd.Process.Pid
	c := benchClient{b: b, base: "http://" + child.rest, c: &http.Client{}}
	c.must("POST", "/admin/config/rate-limit", map[string]any{"enabled": false})
	rng := rand.New(rand.NewPCG(9, 9))
	warmup := func() []time.Duration {
		var ds []time.Duration
		for range 30 {
			ds = append(ds, c.query("big", rng, dim))
		}
		return ds
	}
	warmup()
	b.ResetTimer()
	var (
		warm                        []time.Duration
		hitLocal, hitStore          []time.Duration
		loadLocal, loadStore, evict []time.Duration
		rssIn, rssOut               []int64
		cpuLocal, cpuStore          []time.Duration
	)
	for r := range rounds {
		// Local: memory-s3 keeps its local snapshot (a checkpoint writes
		// it again after an s3-only round left it to the store).
		c.must("PATCH", "/api/v1/collections/big", map[string]any{"tier_policy": "memory-s3"})
		c.must("POST", "/admin/collections/big/checkpoint", nil)
		warm = append(warm, warmup()...)
		rssIn = append(rssIn, rssOf(pid))
		in := rssParts(pid)
		t0 := time.Now()
		c.must("POST", "/admin/collections/big/evict", nil)
		evict = append(evict, time.Since(t0))
		rssOut = append(rssOut, rssOf(pid))
		b.Logf("round %d: RSS in memory %s, evicted %s", r, in, rssParts(pid))
		c0 := cpuOf(pid)
		d := c.query("big", rng, dim)
		cpuLocal = append(cpuLocal, cpuOf(pid)-c0)
		_, load, _ := c.state("big")
		hitLocal, loadLocal = append(hitLocal, d), append(loadLocal, time.Duration(load*float64(time.Second)))
		// MinIO: s3-only, its local snapshot dropped by the cache bound.
		c.must("PATCH", "/api/v1/collections/big", map[string]any{"tier_policy": "s3-only"})
		warm = append(warm, warmup()...)
		c.must("POST", "/admin/collections/big/evict", nil)
		waitUntil(b, time.Minute, "the cache dropping the snapshot", func() bool { _, _, cache := c.state("big"); return cache == 0 })
		c0 = cpuOf(pid)
		d = c.query("big", rng, dim)
		cpuStore = append(cpuStore, cpuOf(pid)-c0)
		_, load, _ = c.state("big")
		hitStore, loadStore = append(hitStore, d), append(loadStore, time.Duration(load*float64(time.Second)))
		b.Logf("round %d: warm p50 %v; RSS %s in memory, %s evicted (eviction %v); cold hit from the local snapshot %v (load %v, server CPU %v), from MinIO %v (load %v, server CPU %v)",
			r, pct50(warm[len(warm)-60:]).Round(time.Microsecond), mib(rssIn[r]), mib(rssOut[r]), evict[r].Round(time.Millisecond),
			hitLocal[r].Round(time.Millisecond), loadLocal[r].Round(time.Millisecond), cpuLocal[r], hitStore[r].Round(time.Millisecond), loadStore[r].Round(time.Millisecond), cpuStore[r])
	}
	b.StopTimer()
	w := pct50(warm)
	slices.Sort(rssIn)
	slices.Sort(rssOut)
	b.ReportMetric(float64(w.Microseconds())/1000, "warm_p50_ms")
	b.ReportMetric(float64(pct50(hitLocal).Milliseconds()), "cold_hit_local_ms")
	b.ReportMetric(float64(pct50(hitStore).Milliseconds()), "cold_hit_minio_ms")
	b.ReportMetric(pct50(loadLocal).Seconds(), "load_local_s")
	b.ReportMetric(pct50(cpuLocal).Seconds(), "cold_local_cpu_s")
	b.ReportMetric(pct50(cpuStore).Seconds(), "cold_minio_cpu_s")
	b.ReportMetric(pct50(loadStore).Seconds(), "load_minio_s")
	b.ReportMetric(float64(rssIn[len(rssIn)/2])/(1<<20), "rss_resident_MiB")
	b.ReportMetric(float64(rssOut[len(rssOut)/2])/(1<<20), "rss_evicted_MiB")
	b.ReportMetric(float64(pct50(hitLocal))/float64(w), "cold_local/warm")
	b.ReportMetric(float64(pct50(hitStore))/float64(w), "cold_minio/warm")
}

// BenchmarkEdgeSkewed is the edge scenario of docs/performance.md:
// AKIDB_BENCH_EDGE_COLLECTIONS (default 20) memory-s3 collections of
// AKIDB_BENCH_EDGE_N (default 50000) 384-d vectors on a server whose
// collections may take AKIDB_BENCH_EDGE_BUDGET_MIB (default 384) MiB, with
// GOMEMLIMIT AKIDB_BENCH_EDGE_GOMEMLIMIT_MIB (default 480) MiB, so that
// the whole process stays within a 512 MiB box. AKIDB_BENCH_EDGE_QUERIES
// (default 3000) queries from 4 clients: 90% go to 3 hot collections, 10%
// to the other 17. It reports the query latency p50/p99 of the hot and the
// cold collections, the loads, and the server's RSS (sampled every 100 ms).
//
// One collection is built; the others get a copy of its snapshot (the same
// records under their own ids: a load reads as much either way), which
// saves building a million vectors on a small machine.
func BenchmarkEdgeSkewed(b *testing.B) {
	cols, n, dim := benchInt("AKIDB_BENCH_EDGE_COLLECTIONS", 20), benchInt("AKIDB_BENCH_EDGE_N", 50000), 384
	budget, memlimit := benchInt("AKIDB_BENCH_EDGE_BUDGET_MIB", 384), benchInt("AKIDB_BENCH_EDGE_GOMEMLIMIT_MIB", 480)
	queries, hot := benchInt("AKIDB_BENCH_EDGE_QUERIES", 3000), 3
	srv := s3test.Start(b)
	store := srv.Store(b, benchBucket)
	start := time.Now()
	dir := preparedDir(b, fmt.Sprintf("edge-%d-%d", cols, n), store, func(dir string) {
		db, err := engine.Open(dir, engine.Config{CheckpointRecords: -1, CheckpointBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		buildCollection(b, db, "c00", n, dim, engine.TierMemory, 1)
		src, _ := db.Collection(engine.DefaultTenant, "c00")
		seqs, _ := src.Snapshots()
		snapName := fmt.Sprintf("%020d.snap", seqs[0])
		snapPath := filepath.Join(dir, "collections", src.Info().ID, "snapshots", snapName)
		var ids []string
		for i := 1; i < cols; i++ {
			info, err := db.CreateCollection(context.Background(), engine.DefaultTenant, engine.CollectionConfig{Name: fmt.Sprintf("c%02d", i), Dimension: dim, Metric: distance.L2})
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, info.ID)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		raw, err := os.ReadFile(snapPath)
		if err != nil {
			b.Fatal(err)
		}
		for _, id := range ids {
			if err := os.WriteFile(filepath.Join(dir, "collections", id, "snapshots", snapName), raw, 0o600); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Logf("built %d x %d and %d copies (or copied them), shipped, in %v", n, dim, cols-1, time.Since(start).Round(time.Second))

	child := startServeChildWith(b, dir, serveFlags(srv, "--tier-memory-budget", fmt.Sprintf("%dMiB", budget), "--tier-evict-after", "1s"),
		append(s3Env(), fmt.Sprintf("GOMEMLIMIT=%dMiB", memlimit)))
	pid := child.cmd.Process.Pid
	c := benchClient{b: b, base: "http://" + child.rest, c: &http.Client{}}
	c.must("POST", "/admin/config/rate-limit", map[string]any{"enabled": false})
	rssStart := rssOf(pid)

	var (
		mu        sync.Mutex
		hotLat    []time.Duration
		coldLat   []time.Duration
		rss       []int64
		next      atomic.Int64
		wg        sync.WaitGroup
		samplerWG sync.WaitGroup
		done      = make(chan struct{})
	)
	samplerWG.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				r := rssOf(pid)
				mu.Lock()
				rss = append(rss, r)
				mu.Unlock()
			}
		}
	})
	b.ResetTimer()
	t0 := time.Now()
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for next.Add(1) <= int64(queries) {
				i := rng.IntN(hot)
				if rng.Float64() >= 0.9 {
					i = hot + rng.IntN(cols-hot)
				}
				d := c.query(fmt.Sprintf("c%02d", i), rng, dim)
				mu.Lock()
				if i < hot {
					hotLat = append(hotLat, d)
				} else {
					coldLat = append(coldLat, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	close(done)
	samplerWG.Wait()
	b.StopTimer()
	var st struct {
		Memory struct {
			ResidentBytes int64 `json:"resident_bytes"`
			Resident      int   `json:"resident_collections"`
		} `json:"memory"`
		Collections []struct {
			Loads       uint64 `json:"loads"`
			Evictions   uint64 `json:"evictions"`
			MemoryBytes int64  `json:"memory_bytes"`
		} `json:"collections"`
	}
	_ = json.Unmarshal(c.must("GET", "/admin/storage/status", nil), &st)
	var loads, evictions uint64
	for _, x := range st.Collections {
		loads += x.Loads
		evictions += x.Evictions
	}
	slices.Sort(rss)
	maxRSS := rss[len(rss)-1]
	b.Logf("each collection takes %s in memory", mib(st.Collections[0].MemoryBytes))
	b.Logf("%d queries in %v; hot (%d): p50 %v p99 %v; cold (%d): p50 %v p99 %v; %d loads, %d evictions; RSS at start %s, p50 %s, max %s (%d samples); at the end %d collections in memory, %s",
		queries, elapsed.Round(time.Millisecond), len(hotLat), pct(hotLat, .5).Round(time.Microsecond), pct(hotLat, .99).Round(time.Millisecond),
		len(coldLat), pct(coldLat, .5).Round(time.Millisecond), pct(coldLat, .99).Round(time.Millisecond), loads, evictions,
		mib(rssStart), mib(rss[len(rss)/2]), mib(maxRSS), len(rss), st.Memory.Resident, mib(st.Memory.ResidentBytes))
	b.ReportMetric(float64(pct(hotLat, .5).Microseconds())/1000, "hot_p50_ms")
	b.ReportMetric(float64(pct(hotLat, .99).Microseconds())/1000, "hot_p99_ms")
	b.ReportMetric(float64(pct(coldLat, .5).Microseconds())/1000, "cold_p50_ms")
	b.ReportMetric(float64(pct(coldLat, .99).Microseconds())/1000, "cold_p99_ms")
	b.ReportMetric(float64(maxRSS)/(1<<20), "rss_max_MiB")
	b.ReportMetric(float64(loads), "loads")
}
