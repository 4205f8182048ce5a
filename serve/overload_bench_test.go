package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akidb/akidb/serve/api"
)

// BenchmarkNoisyNeighbour measures what the limits are for: the latency of
// a well-behaved tenant ("calm", 50 queries/s, well under its 100/s)
// alone, then while another tenant ("noisy") floods the same server with
// 16 clients sending as fast as they can (far above its 100/s), then while
// 32 clients of a tenant with no rate limit push the server past its
// in-flight bound (--max-in-flight 8) with upserts that each wait for an
// fsync. It reports the calm
// tenant's p50/p99, the flood's answers by status, and the process's peak
// RSS (server and clients share the process). One run is the measurement:
//
//	go test ./serve -run '^$' -bench NoisyNeighbour -benchtime 1x
//
// docs/limits.md has the figures of a run.
func BenchmarkNoisyNeighbour(b *testing.B) {
	for range b.N {
		runNoisyNeighbour(b)
	}
}

func runNoisyNeighbour(b *testing.B) {
	s, cfg := startBench(b, func(c *Config) { c.Limiting.MaxInFlight = 8 })
	boot := readKey(b, cfg.DataDir)
	base := "http://" + s.RESTAddr().String()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	call := func(method, path, key string, body any) (int, time.Duration) {
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatalf("%s %s: %v", method, path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	must := func(code int, _ time.Duration) {
		if code >= 300 {
			b.Fatalf("setup request: %d", code)
		}
	}
	keyOf := func(tenant, qps string) string {
		var tn struct{ ID string }
		raw, _ := json.Marshal(map[string]string{"name": tenant})
		req, _ := http.NewRequest("POST", base+"/admin/tenants", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+boot)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&tn)
		resp.Body.Close()
		if qps != "" {
			must(call("POST", "/admin/tenants/"+tn.ID+"/quota", boot, map[string]any{"qps_limit": 10000, "burst": 1000000}))
		}
		raw, _ = json.Marshal(map[string]string{"tenant": tn.ID, "role": "writer"})
		req, _ = http.NewRequest("POST", base+"/admin/api-keys", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+boot)
		req.Header.Set("Content-Type", "application/json")
		resp, err = client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var k struct{ Key string }
		_ = json.NewDecoder(resp.Body).Decode(&k)
		resp.Body.Close()
		return k.Key
	}
	calm, noisy, bulk := keyOf("calm", ""), keyOf("noisy", ""), keyOf("bulk", "unlimited")
	rng := rand.New(rand.NewPCG(1, 2))
	vec := func() []float32 {
		v := make([]float32, 64)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for _, key := range []string{calm, noisy, bulk} {
		must(call("POST", "/api/v1/collections", key, map[string]any{"name": "c", "dimension": 64, "metric": "l2"}))
		for batch := range 2 {
			var u api.UpsertRequest
			for i := range 1000 {
				u.Vectors = append(u.Vectors, api.Vector{ID: fmt.Sprintf("%d-%d", batch, i), Vector: vec()})
			}
			must(call("POST", "/api/v1/collections/c/insert", key, u))
		}
	}
	query := map[string]any{"vector": vec(), "k": 10}

	// The calm tenant: 100 queries at 50/s, the latency of each.
	calmRun := func() (p50, p99 time.Duration, statuses map[int]int) {
		statuses = map[int]int{}
		var lat []time.Duration
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for range 100 {
			<-tick.C
			code, d := call("POST", "/api/v1/collections/c/query", calm, query)
			statuses[code]++
			lat = append(lat, d)
		}
		slices.Sort(lat)
		return lat[len(lat)/2], lat[len(lat)*99/100], statuses
	}
	// A flood: clients sending path as fast as they can until stopped.
	flood := func(clients int, key, method, path string, body any) (stop func() map[int]int) {
		var done atomic.Bool
		var mu sync.Mutex
		counts := map[int]int{}
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for !done.Load() {
					code, _ := call(method, path, key, body)
					mu.Lock()
					counts[code]++
					mu.Unlock()
				}
			})
		}
		return func() map[int]int {
			done.Store(true)
			wg.Wait()
			return counts
		}
	}

	p50, p99, st := calmRun()
	b.Logf("calm alone:               p50 %v  p99 %v  statuses %v", p50, p99, st)
	b.ReportMetric(ms(p50), "calm-alone-p50-ms")
	b.ReportMetric(ms(p99), "calm-alone-p99-ms")

	stop := flood(16, noisy, "POST", "/api/v1/collections/c/query", query)
	p50, p99, st = calmRun()
	noisyCounts := stop()
	b.Logf("calm, noisy flooding:     p50 %v  p99 %v  statuses %v; noisy got %v", p50, p99, st, noisyCounts)
	b.ReportMetric(ms(p50), "calm-flood-p50-ms")
	b.ReportMetric(ms(p99), "calm-flood-p99-ms")
	b.ReportMetric(float64(noisyCounts[http.StatusTooManyRequests]), "noisy-429s")
	b.ReportMetric(float64(noisyCounts[http.StatusOK]), "noisy-200s")

	// Single-record upserts wait for their fsync (fsync=always), so they
	// pile up in flight without the clients, which share the CPU, having
	// to outrun the server.
	stop = flood(32, bulk, "POST", "/api/v1/collections/c/insert", api.UpsertRequest{Vectors: []api.Vector{{ID: "hot", Vector: vec()}}})
	p50, p99, st = calmRun()
	bulkCounts := stop()
	b.Logf("calm, over capacity:      p50 %v  p99 %v  statuses %v; bulk got %v", p50, p99, st, bulkCounts)
	b.ReportMetric(ms(p50), "calm-overload-p50-ms")
	b.ReportMetric(ms(p99), "calm-overload-p99-ms")
	b.ReportMetric(float64(bulkCounts[http.StatusServiceUnavailable]), "bulk-503s")
	b.ReportMetric(float64(bulkCounts[http.StatusOK]), "bulk-200s")
	b.ReportMetric(float64(st[http.StatusServiceUnavailable]), "calm-overload-503s")
	if hwm := procStatusKB("VmHWM"); hwm > 0 {
		b.ReportMetric(float64(hwm)/1024, "peak-rss-MiB")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// procStatusKB reads a kB field of /proc/self/status (0 if unknown).
func procStatusKB(field string) int64 { return procStatusKBOf(0, field) }

// procStatusKBOf reads a kB field of process pid's /proc status (0: this
// process; 0 if unknown).
func procStatusKBOf(pid int, field string) int64 {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func readKey(b *testing.B, dataDir string) string {
	b.Helper()
	raw, err := os.ReadFile(dataDir + "/secrets/bootstrap-admin.key")
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}
