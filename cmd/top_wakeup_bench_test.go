package cmd

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/admin/top"
)

// BenchmarkTopRequestWakeUp measures single requests woken from a second
// of idleness, interleaved call by call so each sees the same machine: a
// minimal Go net/http server's (testdata/floorserver: the floor any Go
// server pays here), akidb's /readyz, one refresh's /admin/metrics with
// top's families, and top's whole refresh (Scraper.Scrape: every request
// a refresh makes, at their cadences) against the binary of
// topBenchServer. Each call's cost is the server's CPU time from just
// before it to 150 ms after it, less the idle server's over as long
// (each call at a random point of its second);
// medians and means of the calls (docs/top.md). The mean is a refresh's
// cost on average: it counts the requests made every 5 or 30 s.
//
// With AKIDB_TOP_REFERENCE set to another akidb binary (for example
// main's), that binary's metrics request and refresh are interleaved too.
//
//	go test ./cmd -run '^$' -bench TopRequestWakeUp -benchtime 1x -timeout 30m
func BenchmarkTopRequestWakeUp(b *testing.B) {
	url, pid, key, remote, _ := topBenchServer(b, buildAkidb(b))
	floorBin := filepath.Join(b.TempDir(), "floorserver")
	if out, err := exec.Command("go", "build", "-o", floorBin, "./testdata/floorserver").CombinedOutput(); err != nil {
		b.Fatalf("build floorserver: %v\n%s", err, out)
	}
	floor := exec.Command(floorBin)
	stdout, err := floor.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := floor.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = floor.Process.Kill(); _ = floor.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("floorserver's address: %v", err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(u, key, accept string) func(b *testing.B) {
		return func(b *testing.B) {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
			if err != nil {
				b.Fatal(err)
			}
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			req.Header.Set("Accept-Encoding", "identity")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("GET %s: %d", u, resp.StatusCode)
			}
		}
	}
	var names []string
	for _, f := range top.FastFamilies() {
		names = append(names, "name[]="+f)
	}
	proto := `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.9,text/plain;version=0.0.4;q=0.5`
	// top's own refresh, its clock a second further at each call, as at
	// the default --interval: what it asks besides the metrics (the Go
	// heap and quota every 5 s, the process every 30 s, the storage
	// status every 30 s on an idle tier) comes as often as in use.
	refresher := func(remote *admin.Remote) func(b *testing.B) {
		clock := time.Now()
		sc := top.NewScraper(remote, true, func() time.Time { return clock })
		sc.Scrape(context.Background()) // the first refresh asks everything
		return func(b *testing.B) {
			clock = clock.Add(time.Second)
			scrapeChecked(context.Background(), sc)(b)
		}
	}
	calls := []wakeCall{
		{"floor-go-server", floor.Process.Pid, get("http://"+strings.TrimSpace(addr)+"/ok", "", "")},
		{"akidb-readyz", pid, get(url+"/readyz", "", "")},
		{"akidb-refresh-metrics", pid, get(url+"/admin/metrics?"+strings.Join(names, "&"), key, proto)},
		{"akidb-top-refresh", pid, refresher(remote)},
	}
	pids := []int{floor.Process.Pid, pid}
	// A reference binary (AKIDB_TOP_REFERENCE, for example main's) serving
	// the same data, its calls interleaved with this one's.
	if ref := os.Getenv("AKIDB_TOP_REFERENCE"); ref != "" {
		rurl, rpid, rkey, rremote, _ := topBenchServer(b, ref)
		calls = append(calls,
			wakeCall{"reference-refresh-metrics", rpid, get(rurl+"/admin/metrics?"+strings.Join(names, "&"), rkey, proto)},
			wakeCall{"reference-top-refresh", rpid, refresher(rremote)})
		pids = append(pids, rpid)
	}
	idleRate := map[int]float64{}
	for _, p := range pids {
		cpu0, t0 := serverCPU(b, p), time.Now()
		<-time.After(5 * time.Second)
		idleRate[p] = float64(serverCPU(b, p)-cpu0) / float64(time.Since(t0))
	}
	const n, after = 30, 150 * time.Millisecond
	costs := make([][]float64, len(calls))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for range n {
		for i, c := range calls {
			<-tick.C
			// At a random point of the second: the server's own work
			// every second (the tier's ship loop) then falls into the
			// measured window as often as its share of the time, instead
			// of always or never depending on where the ticks fall.
			<-time.After(time.Duration(rand.Int64N(int64(500 * time.Millisecond))))
			cpu0, t0 := serverCPU(b, c.pid), time.Now()
			c.fn(b)
			<-time.After(after)
			cost := float64(serverCPU(b, c.pid)-cpu0) - idleRate[c.pid]*float64(time.Since(t0))
			costs[i] = append(costs[i], cost/1e3)
		}
	}
	for i, c := range calls {
		v := slices.Sorted(slices.Values(costs[i]))
		mean := 0.0
		for _, x := range v {
			mean += x / float64(len(v))
		}
		b.ReportMetric(v[len(v)/2], c.name+"-µs")
		b.ReportMetric(mean, c.name+"-mean-µs")
		b.Logf("%s: median %.0f µs, mean %.0f, quartiles %.0f-%.0f", c.name, v[len(v)/2], mean, v[len(v)/4], v[3*len(v)/4])
	}
	b.Logf("load average: %s", loadAverage())
}

// wakeCall is one of BenchmarkTopRequestWakeUp's calls and the process
// it costs.
type wakeCall struct {
	name string
	pid  int
	fn   func(b *testing.B)
}
