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
// (Scraper.Scrape: /readyz, /admin/metrics, /admin/storage/status, and
// /admin/dlq while it holds entries) costs the server in CPU time: the
// real binary serving 12 memory-s3 collections (and 4 tenants) to a real
// MinIO, its threads' CPU time read from /proc/<pid>/task/*/schedstat.
//
// paced: refreshes one second apart, as top makes them (what the server
// caches for a few seconds is paid as often as it would be); each round
// measures the server idle for as long, then pacedRefreshes refreshes;
// the cost is (busy - idle) / refreshes, median of the rounds. burst: each
// request of a refresh alone, back to back (cached parts mostly cached),
// for the breakdown. With dlq=yes MinIO is down and the DLQ holds entries
// (listed at every refresh).
//
//	go test ./cmd -run '^$' -bench TopRefreshServerCPU -benchtime 1x -timeout 30m
func BenchmarkTopRefreshServerCPU(b *testing.B) {
	bin := buildAkidb(b)
	minio := s3test.Start(b)
	dir := filepath.Join(b.TempDir(), "data")
	url, pid := startServeBinary(b, bin, []string{"AKIDB_S3_ACCESS_KEY=" + s3test.AccessKey, "AKIDB_S3_SECRET_KEY=" + s3test.SecretKey},
		"--data-dir", dir, "--fsync", "none", "--s3-endpoint", minio.Endpoint(), "--s3-bucket", "akidb", "--s3-create-bucket",
		"--tier-policy", "memory-s3", "--dlq-retry-interval", "1h")
	key := readBootstrap(b, dir)
	client, err := admin.Dial(admin.RemoteConfig{Server: url, APIKey: key})
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	// The refreshes run back to back here, far above the default rate
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
	const calls, rounds, pacedRefreshes, pacedRounds = 300, 5, 30, 3
	// measure runs fn n times per round (paced: one a second) and reports
	// the server's CPU per call, the idle server's over the same time
	// subtracted.
	measure := func(name string, n int, paced bool, fn func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			var costs []float64
			r := rounds
			if paced {
				r = pacedRounds
			}
			for range r {
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
				costs = append(costs, (busy-idleCPU).Seconds()/float64(n))
				b.Logf("round: %d calls in %v, server CPU %v (idle for as long: %v)", n, took.Round(time.Millisecond), busy, idleCPU)
			}
			slices.Sort(costs)
			b.ReportMetric(costs[len(costs)/2]*1e6, "server-µs/op")
			b.ReportMetric(costs[0]*1e6, "min-µs/op")
			b.ReportMetric(costs[len(costs)-1]*1e6, "max-µs/op")
		})
	}
	sc := top.NewScraper(client, true, nil)
	sc.Scrape(ctx) // the first refresh also fetches the tenants' names
	check := func(b *testing.B, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	refresh := func(b *testing.B) {
		if s := sc.Scrape(ctx); s.Err != nil || !s.Tenants || s.StorageErr != nil || s.DLQErr != nil {
			b.Fatalf("refresh: %v %v %v %v %v", s.Err, s.MetricsErr, s.TenantsErr, s.StorageErr, s.DLQErr)
		}
	}
	parts := func(dlq string) {
		measure("paced/refresh/dlq="+dlq, pacedRefreshes, true, refresh)
		measure("burst/refresh/dlq="+dlq, calls, false, refresh)
		measure("burst/readyz/dlq="+dlq, calls, false, func(b *testing.B) { _, err := client.Ready(ctx); check(b, err) })
		measure("burst/admin-metrics/dlq="+dlq, calls, false, func(b *testing.B) { _, err := client.Metrics(ctx, true, top.ScrapedFamilies()...); check(b, err) })
		measure("burst/storage-status/dlq="+dlq, calls, false, func(b *testing.B) { _, err := client.StorageStatus(ctx); check(b, err) })
	}
	parts("no")
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
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the DLQ did not fill: %+v", st.DLQ)
		}
		tick := time.NewTimer(100 * time.Millisecond)
		<-tick.C
	}
	parts("yes")
	measure("burst/dlq-list/dlq=yes", calls, false, func(b *testing.B) { _, err := client.ListDLQ(ctx, "", "", 500); check(b, err) })
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
