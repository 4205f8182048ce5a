package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/admin/top"
	"github.com/akidb/akidb/engine/tier/s3/s3test"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/limits"
)

// BenchmarkTopRefreshServerCPU measures what one refresh of `akidb top`
// (Scraper.Scrape: /admin/metrics, and with the details /readyz,
// /admin/storage/status and /admin/dlq while it holds entries) costs the
// server in CPU time: the real binary serving 12 memory-s3 collections
// (and 4 tenants) to a real MinIO, its threads' CPU time read from
// /proc/<pid>/task/*/schedstat.
//
// paced: calls one second apart, as top makes them (a server woken from
// idleness pays its wake-up, and what it caches for a few seconds is paid
// as often as it would be); each round measures the server idle for as
// long, then the calls; the cost is (busy - idle) / calls, median of the
// rounds. burst: back to back, for comparison. With dlq=yes MinIO is down
// and the DLQ holds entries (listed with the details).
//
//	go test ./cmd -run '^$' -bench TopRefreshServerCPU -benchtime 1x -timeout 60m
func BenchmarkTopRefreshServerCPU(b *testing.B) {
	bin := buildAkidb(b)
	url, pid, key, client, minio := topBenchServer(b, bin)
	ctx := context.Background()
	const calls, rounds, pacedCalls, pacedRounds = 300, 5, 30, 3
	measure := func(name string, paced bool, fn func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			n, r := calls, rounds
			if paced {
				n, r = pacedCalls, pacedRounds
			}
			var costs []float64
			for range r {
				costs = append(costs, serverCPURound(b, pid, n, paced, fn))
			}
			reportCosts(b, "", costs)
		})
	}
	sc := top.NewScraper(client, true, nil)
	sc.Scrape(ctx) // the first refresh also fetches the tenants' names
	refresh := scrapeChecked(ctx, sc)
	parts := func(dlq string, paced bool) {
		mode := "burst/"
		if paced {
			mode = "paced/"
		}
		measure(mode+"readyz/dlq="+dlq, paced, func(b *testing.B) { _, err := client.Ready(ctx); check(b, err) })
		measure(mode+"admin-metrics-every-refresh/dlq="+dlq, paced, func(b *testing.B) { _, err := client.Metrics(ctx, true, top.FastFamilies()...); check(b, err) })
		measure(mode+"admin-metrics-with-details/dlq="+dlq, paced, func(b *testing.B) { _, err := client.Metrics(ctx, true, top.ScrapedFamilies()...); check(b, err) })
		measure(mode+"admin-metrics-all/dlq="+dlq, paced, func(b *testing.B) { _, err := client.Metrics(ctx, true); check(b, err) })
		measure(mode+"storage-status/dlq="+dlq, paced, func(b *testing.B) { _, err := client.StorageStatus(ctx); check(b, err) })
	}
	measure("paced/refresh/dlq=no", true, refresh)
	measure("burst/refresh/dlq=no", false, refresh)
	parts("no", true)
	parts("no", false)
	fillDLQ(b, url, key, client, minio)
	measure("paced/refresh/dlq=yes", true, refresh)
	measure("burst/refresh/dlq=yes", false, refresh)
	parts("yes", false)
	measure("burst/dlq-list/dlq=yes", false, func(b *testing.B) { _, err := client.ListDLQ(ctx, "", "", 500); check(b, err) })
}

// topBenchServer starts the real binary serving 12 memory-s3 collections
// of 200 vectors (each queried once) and 4 tenants to a real MinIO, with
// the default rate limit raised out of the way, and returns it with an
// admin client over its bootstrap key.
func topBenchServer(b *testing.B, bin string) (url string, pid int, key string, client *admin.Remote, minio *s3test.Server) {
	minio = s3test.Start(b)
	dir := filepath.Join(b.TempDir(), "data")
	url, pid = startServeBinary(b, bin, []string{"AKIDB_S3_ACCESS_KEY=" + s3test.AccessKey, "AKIDB_S3_SECRET_KEY=" + s3test.SecretKey},
		"--data-dir", dir, "--fsync", "none", "--s3-endpoint", minio.Endpoint(), "--s3-bucket", "akidb", "--s3-create-bucket",
		"--tier-policy", "memory-s3", "--dlq-retry-interval", "1h")
	key = readBootstrap(b, dir)
	client, err := admin.Dial(admin.RemoteConfig{Server: url, APIKey: key})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	ctx := context.Background()
	// Refreshes may run back to back here, far above the default rate
	// limit; the limit stays on (its bookkeeping is part of the cost).
	qps := 10000.0
	if _, err := client.SetRateLimit(ctx, limits.RateLimitUpdate{DefaultQPS: &qps}); err != nil {
		b.Fatal(err)
	}
	for i := range 3 {
		if _, err := client.CreateTenant(ctx, fmt.Sprint("tenant", i)); err != nil {
			b.Fatal(err)
		}
	}
	for c := range 12 {
		postJSON(b, url, key, "/api/v1/collections", api.CreateCollectionRequest{Name: fmt.Sprint("c", c), Dimension: 8})
		var vs []api.Vector
		for i := range 200 {
			vs = append(vs, api.Vector{ID: fmt.Sprint(i), Vector: []float32{float32(i), 1, 2, 3, 4, 5, 6, 7}})
		}
		postJSON(b, url, key, fmt.Sprintf("/api/v1/collections/c%d/insert", c), api.UpsertRequest{Vectors: vs})
		postJSON(b, url, key, fmt.Sprintf("/api/v1/collections/c%d/query", c), api.QueryRequest{Vector: []float32{1, 1, 2, 3, 4, 5, 6, 7}, K: 3})
	}
	return url, pid, key, client, minio
}

// BenchmarkTopRefreshVersus compares the paced refresh's server CPU of
// this tree's binary with a reference binary's (AKIDB_TOP_REFERENCE, for
// example main's), both serving the same data to MinIOs of their own,
// their rounds alternating (reference first) in the same run. Both are
// refreshed by this tree's Scraper (a reference server that does not run
// only the collectors asked for runs them all anyway).
//
//	go build -o /tmp/akidb-main . # in main's checkout
//	AKIDB_TOP_REFERENCE=/tmp/akidb-main go test ./cmd -run '^$' -bench TopRefreshVersus -benchtime 1x -timeout 60m
func BenchmarkTopRefreshVersus(b *testing.B) {
	ref := os.Getenv("AKIDB_TOP_REFERENCE")
	if ref == "" {
		b.Skip("set AKIDB_TOP_REFERENCE to the reference akidb binary")
	}
	type side struct {
		name     string
		url, key string
		pid      int
		client   *admin.Remote
		minio    *s3test.Server
		refresh  func(b *testing.B)
		costs    map[string][]float64
	}
	ctx := context.Background()
	var sides []*side
	for _, s := range []struct{ name, bin string }{{"reference", ref}, {"this", buildAkidb(b)}} {
		url, pid, key, client, minio := topBenchServer(b, s.bin)
		sc := top.NewScraper(client, true, nil)
		sc.Scrape(ctx)
		sides = append(sides, &side{name: s.name, url: url, key: key, pid: pid, client: client, minio: minio, refresh: scrapeChecked(ctx, sc), costs: map[string][]float64{}})
	}
	const pacedCalls, rounds = 30, 3
	for _, dlq := range []string{"no", "yes"} {
		if dlq == "yes" {
			for _, s := range sides {
				fillDLQ(b, s.url, s.key, s.client, s.minio)
			}
		}
		b.Run("paced/refresh/dlq="+dlq, func(b *testing.B) {
			var ratios []float64
			for range rounds {
				var c [2]float64
				for i, s := range sides {
					c[i] = serverCPURound(b, s.pid, pacedCalls, true, s.refresh)
					s.costs[dlq] = append(s.costs[dlq], c[i])
				}
				ratios = append(ratios, c[1]/c[0])
			}
			for _, s := range sides {
				reportCosts(b, s.name+"-", s.costs[dlq])
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "this/reference")
			b.Logf("load average: %s", loadAverage())
		})
	}
}

// serverCPURound calls fn n times (paced: one a second, as top refreshes)
// and returns the server's CPU seconds per call, the idle server's over
// the same time subtracted.
func serverCPURound(b *testing.B, pid, n int, paced bool, fn func(b *testing.B)) float64 {
	cpu0 := serverCPU(b, pid)
	idle := time.NewTimer(time.Duration(n) * pacing(paced))
	<-idle.C
	idleCPU := serverCPU(b, pid) - cpu0
	tick := time.NewTicker(pacing(paced))
	start, cpu1 := time.Now(), serverCPU(b, pid)
	for range n {
		fn(b)
		if paced {
			<-tick.C
		}
	}
	tick.Stop()
	busy, took := serverCPU(b, pid)-cpu1, time.Since(start)
	// The idle window was n intervals long; scale it to the busy one.
	idleCPU = time.Duration(float64(idleCPU) * float64(took) / float64(time.Duration(n)*pacing(paced)))
	b.Logf("round: %d calls in %v, server CPU %v (idle for as long: %v), load average %s", n, took.Round(time.Millisecond), busy, idleCPU, loadAverage())
	return (busy - idleCPU).Seconds() / float64(n)
}

// reportCosts reports the median, min and max of per-call costs.
func reportCosts(b *testing.B, prefix string, costs []float64) {
	costs = slices.Sorted(slices.Values(costs))
	b.ReportMetric(costs[len(costs)/2]*1e6, prefix+"server-µs/op")
	b.ReportMetric(costs[0]*1e6, prefix+"min-µs/op")
	b.ReportMetric(costs[len(costs)-1]*1e6, prefix+"max-µs/op")
}

// scrapeChecked is one refresh of sc that fails b when a part of it did.
func scrapeChecked(ctx context.Context, sc *top.Scraper) func(b *testing.B) {
	return func(b *testing.B) {
		if s := sc.Scrape(ctx); s.Err != nil || !s.Tenants || s.StorageErr != nil || s.DLQErr != nil {
			b.Fatalf("refresh: %v %v %v %v %v", s.Err, s.MetricsErr, s.TenantsErr, s.StorageErr, s.DLQErr)
		}
	}
}

func check(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}

// fillDLQ stops MinIO and checkpoints every collection, so the DLQ holds
// their uploads.
func fillDLQ(b *testing.B, url, key string, client *admin.Remote, minio *s3test.Server) {
	ctx := context.Background()
	minio.Kill()
	for c := range 12 {
		postJSON(b, url, key, fmt.Sprintf("/admin/collections/c%d/checkpoint", c), nil)
	}
	deadline := time.Now().Add(e2eTimeout)
	for {
		st, err := client.StorageStatus(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if st.DLQ.Pending >= 12 {
			b.Logf("DLQ: %d pending", st.DLQ.Pending)
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the DLQ did not fill: %+v", st.DLQ)
		}
		tick := time.NewTimer(100 * time.Millisecond)
		<-tick.C
	}
}

// loadAverage is the machine's load average (1, 5 and 15 minutes).
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// pacing is the time between two refreshes: top's default interval, or
// none.
func pacing(paced bool) time.Duration {
	if paced {
		return top.DefaultInterval
	}
	return time.Millisecond
}

// serverCPU is the CPU time of a process's threads, from
// /proc/<pid>/task/*/schedstat (nanoseconds; the Go runtime keeps its
// threads, so none is lost to a thread exiting between two readings).
func serverCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		b.Fatalf("threads of %d: %v", pid, err)
	}
	var total time.Duration
	for _, p := range tasks {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(data))
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			b.Fatalf("%s: %q", p, data)
		}
		total += time.Duration(ns)
	}
	return total
}
