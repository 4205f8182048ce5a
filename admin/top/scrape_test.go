package top

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
)

// scrapes makes n refreshes a second apart with a fresh scraper and
// returns the calls of each.
func scrapes(f *fakeServer, hasKey bool, n int) (*tracker, [][]string) {
	sc := NewScraper(f, hasKey, f.clock.Now)
	tr := newTracker("http://x", "", time.Second)
	var calls [][]string
	for range n {
		tr.fold(sc.Scrape(context.Background()))
		calls = append(calls, f.Calls())
		f.clock.Add(time.Second)
	}
	return tr, calls
}

// TestScraperAsksWhatCanAnswer: a route that refused the key or does not
// exist is asked once, not at every refresh (each refusal is an audit row
// on the server), and the pane says why it is empty.
func TestScraperAsksWhatCanAnswer(t *testing.T) {
	t.Run("operator", func(t *testing.T) {
		f := brokenServer(&fakeClock{t: base})
		_, calls := scrapes(f, true, 3)
		// The metrics at every refresh (readiness in them); the storage
		// status and the DLQ list at the first.
		want := [][]string{
			{"admin metrics", "storage", `dlq "" "" 500`, "tenants"},
			{"admin metrics"},
			{"admin metrics"},
		}
		if !slices.EqualFunc(calls, want, slices.Equal) {
			t.Fatalf("calls %q, want %q", calls, want)
		}
	})
	t.Run("details when the metrics show a change", func(t *testing.T) {
		f := brokenServer(&fakeClock{t: base})
		sc := NewScraper(f, true, f.clock.Now)
		step := func(d time.Duration) []string {
			f.clock.Add(d)
			sc.Scrape(context.Background())
			return f.Calls()
		}
		step(0)
		if c := step(time.Second); !slices.Equal(c, []string{"admin metrics"}) {
			t.Fatalf("no change: %q", c)
		}
		f.storage.Store.CircuitBreaker.State, f.storage.Store.CircuitBreaker.StateValue = "half-open", 1
		if c := step(time.Second); !slices.Equal(c, []string{"admin metrics", "storage", `dlq "" "" 500`}) {
			t.Fatalf("the breaker changed: %q", c)
		}
		f.dlq = f.dlq[1:]
		if c := step(time.Second); !slices.Equal(c, []string{"admin metrics", "storage", `dlq "" "" 500`}) {
			t.Fatalf("the DLQ changed: %q", c)
		}
		if c := step(time.Second); !slices.Equal(c, []string{"admin metrics"}) {
			t.Fatalf("no change: %q", c)
		}
		// The uploads' counters moved: the tier is at work.
		if c := step(detailsEvery); !slices.Equal(c, []string{"admin metrics", "storage", `dlq "" "" 500`}) {
			t.Fatalf("after detailsEvery: %q", c)
		}
		sc.ScrapeAll(context.Background())
		if c := f.Calls(); !slices.Equal(c, []string{"admin metrics", "storage", `dlq "" "" 500`}) {
			t.Fatalf("ScrapeAll: %q", c)
		}
		// After a refresh without an answer, the next asks everything.
		f.down = errRefused
		step(time.Second)
		f.down = nil
		if c := step(time.Second); !slices.Equal(c, []string{"admin metrics", "storage", `dlq "" "" 500`}) {
			t.Fatalf("after a failure: %q", c)
		}
	})
	t.Run("a steady server gets one request per refresh", func(t *testing.T) {
		f := healthyServer(&fakeClock{t: base})
		f.uploads = [3]float64{}
		for i := range f.storage.Collections {
			f.storage.Collections[i].ShipLagSeconds = 0
		}
		sc := NewScraper(f, true, f.clock.Now)
		sc.Scrape(context.Background())
		f.Calls()
		var storageAt []int
		for i := 1; i <= 2*int(storageEvery/time.Second); i++ {
			f.clock.Add(time.Second)
			smp := sc.Scrape(context.Background())
			c := f.Calls()
			if c[0] != "admin metrics" || slices.Contains(c, "ready") || len(c) > 2 {
				t.Fatalf("refresh %d asked %q", i, c)
			}
			if slices.Contains(c, "storage") {
				storageAt = append(storageAt, i)
			}
			if smp.Ready.Status != 200 {
				t.Fatalf("refresh %d: readiness %+v", i, smp.Ready)
			}
		}
		if want := []int{30, 60}; !slices.Equal(storageAt, want) {
			t.Fatalf("the storage status was asked at refreshes %v, want %v (every %v)", storageAt, want, storageEvery)
		}
	})
	t.Run("readiness of a server without akidb_ready", func(t *testing.T) {
		f := healthyServer(&fakeClock{t: base})
		f.noReadyGauge = true
		sc := NewScraper(f, true, f.clock.Now)
		var readyAt []int
		for i := range 12 {
			if i > 0 {
				f.clock.Add(time.Second)
			}
			sc.Scrape(context.Background())
			if slices.Contains(f.Calls(), "ready") {
				readyAt = append(readyAt, i)
			}
		}
		if want := []int{0, 5, 10}; !slices.Equal(readyAt, want) {
			t.Fatalf("/readyz asked at refreshes %v, want %v", readyAt, want)
		}
	})
	t.Run("a server that is not ready is asked why at every refresh", func(t *testing.T) {
		f := healthyServer(&fakeClock{t: base})
		f.readyStatus, f.readyBody = 503, `{"status":"stopping"}`
		tr, calls := scrapes(f, true, 3)
		for i, c := range calls {
			if !slices.Contains(c, "ready") {
				t.Fatalf("refresh %d asked %q", i, c)
			}
		}
		if r := tr.snapshot().Header.Readiness; r != "stopping" {
			t.Fatalf("readiness %q", r)
		}
	})
	t.Run("empty DLQ is not listed", func(t *testing.T) {
		_, calls := scrapes(healthyServer(&fakeClock{t: base}), true, 2)
		if slices.ContainsFunc(calls[1], func(c string) bool { return strings.HasPrefix(c, "dlq") }) {
			t.Fatalf("listed an empty DLQ: %q", calls[1])
		}
	})
	t.Run("not an operator", func(t *testing.T) {
		f := brokenServer(&fakeClock{t: base})
		f.metricsForbidden = true
		tr, calls := scrapes(f, true, 3)
		if calls[0][0] != "admin metrics" || slices.Contains(calls[2], "admin metrics") || !slices.Contains(calls[2], "metrics") || slices.Contains(calls[0], "tenants") {
			t.Fatalf("calls %q", calls)
		}
		snap := tr.snapshot()
		if snap.Tenants.Unavailable != offNeedsAdmin || len(snap.Traffic.Ops) != numOps || snap.Storage.Stores[0].Breaker.State != "open" {
			t.Fatalf("snapshot: tenants %q, traffic %d ops, storage %+v", snap.Tenants.Unavailable, len(snap.Traffic.Ops), snap.Storage)
		}
	})
	t.Run("no storage.read", func(t *testing.T) {
		f := brokenServer(&fakeClock{t: base})
		f.storageForbidden = true
		tr, calls := scrapes(f, true, 3)
		if !slices.Contains(calls[0], "storage") || slices.Contains(calls[1], "storage") {
			t.Fatalf("calls %q", calls)
		}
		snap := tr.snapshot()
		if snap.Storage.Unavailable != offNeedsReader || snap.DLQ.Unavailable != offNeedsReader {
			t.Fatalf("storage %q, dlq %q", snap.Storage.Unavailable, snap.DLQ.Unavailable)
		}
	})
	t.Run("old server", func(t *testing.T) {
		f := healthyServer(&fakeClock{t: base})
		f.storageMissing, f.noBuildInfo = true, true
		tr, calls := scrapes(f, true, 3)
		if !slices.Contains(calls[0], "storage") || slices.Contains(calls[1], "storage") {
			t.Fatalf("calls %q", calls)
		}
		// The version from /api/v1/status, asked once per server process.
		if !slices.Contains(calls[0], "status") || slices.Contains(calls[1], "status") {
			t.Fatalf("status asked: %q", calls)
		}
		snap := tr.snapshot()
		if snap.Storage.Unavailable != "not available on this server" || snap.DLQ.Unavailable != "not available on this server" || snap.Header.Version != "v1.9.0" {
			t.Fatalf("storage %q, version %q", snap.Storage.Unavailable, snap.Header.Version)
		}
	})
	t.Run("key refused", func(t *testing.T) {
		f := brokenServer(&fakeClock{t: base})
		f.keyRefused = true
		tr, calls := scrapes(f, true, 3)
		want := [][]string{{"admin metrics", "metrics"}, {"metrics"}, {"metrics"}}
		if !slices.EqualFunc(calls, want, slices.Equal) {
			t.Fatalf("calls %q, want %q", calls, want)
		}
		snap := tr.snapshot()
		if !strings.Contains(snap.Storage.Unavailable, "the API key was refused") || !strings.Contains(snap.Tenants.Unavailable, "the API key was refused") {
			t.Fatalf("storage %q, tenants %q", snap.Storage.Unavailable, snap.Tenants.Unavailable)
		}
	})
	t.Run("no key", func(t *testing.T) {
		tr, calls := scrapes(brokenServer(&fakeClock{t: base}), false, 2)
		if !slices.Equal(calls[0], []string{"metrics"}) || !slices.Equal(calls[1], []string{"metrics"}) {
			t.Fatalf("calls without a key: %q", calls)
		}
		snap := tr.snapshot()
		if snap.Storage.Unavailable != offNoKey || snap.Header.Vectors == nil || *snap.Header.Vectors != 1204331 {
			t.Fatalf("storage %q, vectors %v", snap.Storage.Unavailable, snap.Header.Vectors)
		}
	})
	t.Run("starting", func(t *testing.T) {
		f := healthyServer(&fakeClock{t: base})
		f.readyStatus, f.readyBody = 503, `{"status":"starting"}`
		tr, _ := scrapes(f, true, 1)
		if r := tr.snapshot().Header.Readiness; r != "starting" {
			t.Fatalf("readiness %q", r)
		}
	})
}

// TestSnapshotNumbers: the rates, quantiles and totals the fake server's
// counters imply.
func TestSnapshotNumbers(t *testing.T) {
	f := healthyServer(&fakeClock{t: base})
	f.perSecond = [numOps]float64{100, 10, 0, 0, 0}
	f.tenants[0].allowed, f.tenants[0].limited = 50, 5
	tr, _ := scrapes(f, true, 12)
	snap := tr.snapshot()
	wave := func(at time.Time) float64 { return 1 + 0.5*sinT(at) }
	last := base.Add(11 * time.Second)
	q := snap.Traffic.Ops[opQuery]
	if want := 100 * wave(last); q.PerSecond == nil || abs(*q.PerSecond-want) > 1 {
		t.Fatalf("query rate %v, want about %.1f", q.PerSecond, want)
	}
	// 0.9 ms falls in the (0.5 ms, 1 ms] bucket: p50 interpolates to its
	// middle, p99 near its top.
	if q.P50Seconds == nil || abs(*q.P50Seconds-0.00075) > 1e-6 || q.P99Seconds == nil || abs(*q.P99Seconds-0.000995) > 1e-6 {
		t.Fatalf("query p50 %v p99 %v", q.P50Seconds, q.P99Seconds)
	}
	if g := snap.Traffic.Ops[opGet]; g.PerSecond == nil || *g.PerSecond != 0 || g.P50Seconds != nil {
		t.Fatalf("idle get: rate %v p50 %v", g.PerSecond, g.P50Seconds)
	}
	if e := snap.Traffic.Errors; e.RateLimitedPerSecond == nil || abs(*e.RateLimitedPerSecond-1.2) > 1e-9 || e.UnavailablePerSecond == nil || *e.UnavailablePerSecond != 0 {
		t.Fatalf("errors %+v", e)
	}
	rows := snap.Tenants.Rows
	if len(rows) != 3 || rows[0].Name != "default" || rows[1].Name != "acme" || *rows[1].LimitedPerSecond != 5 || *rows[1].Quota.Vectors != .71 || rows[1].Quota.StorageBytes == nil || rows[0].Quota.Vectors != nil {
		t.Fatalf("tenants %+v", rows)
	}
	if h := snap.Header; h.FsyncP99Seconds == nil || *h.FsyncP99Seconds <= 0.001 || *h.FsyncP99Seconds > 0.0025 || h.UptimeSeconds == nil || *h.UptimeSeconds != 3*3600+11 {
		t.Fatalf("header fsync p99 %v uptime %v", h.FsyncP99Seconds, h.UptimeSeconds)
	}
	if s := snap.Storage; s.UploadsPerSecond == nil || *s.UploadsPerSecond != 2 || *s.BytesPerSecond != 2*65536 || s.ShipLagSeconds == nil || *s.ShipLagSeconds != 1.4 {
		t.Fatalf("storage %+v", s)
	}
	// The sparkline's newest cells hold the rate, the older ones nothing yet.
	spark := q.Spark
	if len(spark) != sparkColumns || spark[sparkColumns-1] == nil || spark[0] != nil {
		t.Fatalf("sparkline %v", spark)
	}
	// The JSON has no NaN and names every pane.
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"traffic"`, `"tenants"`, `"storage"`, `"dlq"`, `"p99_seconds"`, `"429_per_second"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("the snapshot's JSON lacks %s", k)
		}
	}
}

// TestRestartStartsOver: a restarted server's counters go back to zero;
// no negative or huge rate comes of it.
func TestRestartStartsOver(t *testing.T) {
	f := healthyServer(&fakeClock{t: base})
	sc := NewScraper(f, true, f.clock.Now)
	tr := newTracker("http://x", "", time.Second)
	for range 5 {
		tr.fold(sc.Scrape(context.Background()))
		f.clock.Add(time.Second)
	}
	f.counts = [numOps]float64{}
	tr.fold(sc.Scrape(context.Background()))
	snap := tr.snapshot()
	if r := snap.Traffic.Ops[opQuery].PerSecond; r != nil {
		t.Fatalf("a rate across a restart: %v", *r)
	}
	if len(tr.hist.points) != 1 {
		t.Fatalf("%d points kept across the restart", len(tr.hist.points))
	}
}

func TestResidency(t *testing.T) {
	f := healthyServer(&fakeClock{t: base})
	tr, _ := scrapes(f, true, 1)
	if s := tr.snapshot().Storage; s.Resident != nil || s.ResidentUnavailable != "not available on this server" {
		t.Fatalf("without the metric: %+v", s)
	}
	f.resident = fp(9)
	tr, _ = scrapes(f, true, 1)
	if s := tr.snapshot().Storage; s.Resident == nil || *s.Resident != 9 || *s.Evicted != 3 || s.ResidentUnavailable != "" {
		t.Fatalf("with akidb_collections_resident 9 of 12: %+v", s)
	}
}

// TestNoColor: the Ascii profile (NO_COLOR) writes no escape codes, and
// every state is still told in words or symbols.
func TestNoColor(t *testing.T) {
	h := newHarness(t, brokenServer(&fakeClock{t: base}), 160, 48, func(o *Options) { o.Renderer = testRenderer(termenv.Ascii) })
	h.ticks(2)
	h.key("shift+tab")
	v := h.m.View()
	if strings.Contains(v, "\x1b") {
		t.Fatalf("escape codes with the Ascii profile: %q", v)
	}
	for _, want := range []string{"✗ OPEN", "┏━ DLQ 4", "› ", "permanent"} {
		if !strings.Contains(v, want) {
			t.Errorf("without colour the view lacks %q", want)
		}
	}
	colour := newHarness(t, brokenServer(&fakeClock{t: base}), 160, 48)
	if !strings.Contains(colour.m.View(), "\x1b[") {
		t.Fatal("the ANSI profile wrote no colour")
	}
	if ansi.Strip(colour.m.View()) == "" {
		t.Fatal("empty view")
	}
}

// TestCollectAndFrame: --once's two refreshes fill the rates; the JSON
// and the text frame are the same snapshot.
func TestCollectAndFrame(t *testing.T) {
	f := brokenServer(&fakeClock{t: base})
	opts := Options{Client: f, Server: "http://127.0.0.1:8080", HasKey: true, Interval: time.Millisecond, Renderer: testRenderer(termenv.Ascii),
		Now: func() time.Time { f.clock.Add(500 * time.Millisecond); return f.clock.Now() }}
	var js, text strings.Builder
	if err := RunOnce(context.Background(), opts, &js, true, 0); err != nil {
		t.Fatal(err)
	}
	var snap Snapshot
	if err := json.Unmarshal([]byte(js.String()), &snap); err != nil {
		t.Fatal(err)
	}
	if !snap.Reachable || snap.Traffic.Ops[opQuery].PerSecond == nil || len(snap.DLQ.Entries) != 4 || snap.Storage.Stores[0].Breaker.State != "open" {
		t.Fatalf("snapshot %+v", snap)
	}
	if err := RunOnce(context.Background(), opts, &text, false, 100); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{"── Traffic", "── Tenants", "── Storage", "── DLQ", "✗ OPEN", "acme/docs", "upload manifest"} {
		if !strings.Contains(out, want) {
			t.Errorf("the frame lacks %q:\n%s", want, out)
		}
	}
	for i, l := range strings.Split(out, "\n") {
		if ansi.StringWidth(l) > 100 {
			t.Errorf("line %d wider than 100: %q", i, l)
		}
	}
	f.down = errRefused
	js.Reset()
	err := RunOnce(context.Background(), opts, &js, true, 0)
	if _, ok := err.(*UnreachableError); !ok || !strings.Contains(js.String(), `"reachable": false`) || !strings.Contains(js.String(), "connection refused") {
		t.Fatalf("unreachable: %v\n%s", err, js.String())
	}
}

// TestScraperAsksSlowFamiliesWithTheDetails: the families whose
// collectors cost the server the most are asked for at the first
// refresh, after a failure and on ScrapeAll, and then the Go runtime's
// and quota's every detailsEvery, the process's every processEvery; the
// refreshes in between ask the others only, and still show the last
// process memory and quota use.
func TestScraperAsksSlowFamiliesWithTheDetails(t *testing.T) {
	f := healthyServer(&fakeClock{t: base})
	mib := 1024.0 * 1024
	f.rss = 100 * mib
	sc := NewScraper(f, true, f.clock.Now)
	tr := newTracker("http://x", "", time.Second)
	step := func(d time.Duration) (Sample, []string) {
		f.clock.Add(d)
		smp := sc.Scrape(context.Background())
		tr.fold(smp)
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.asked) == 0 {
			t.Fatal("no metrics call")
		}
		asked := f.asked[len(f.asked)-1]
		f.asked = nil
		return smp, asked
	}
	rss := func(smp Sample) float64 { v, _ := smp.Families.scalar("process_resident_memory_bytes"); return v }
	quotaRows := func(smp Sample) int { return len(smp.Families["akidb_quota_usage_ratio"].GetMetric()) }
	smp, asked := step(0)
	if !slices.Equal(asked, ScrapedFamilies()) || rss(smp) != 100*mib {
		t.Fatalf("first refresh asked %q, rss %v", asked, rss(smp))
	}
	quotas := quotaRows(smp)
	if quotas == 0 {
		t.Fatal("the healthy server has no quota series")
	}
	f.rss = 200 * mib
	for range 4 {
		smp, asked = step(time.Second)
		if !slices.Equal(asked, FastFamilies()) {
			t.Fatalf("a refresh within %v asked %q", detailsEvery, asked)
		}
		if rss(smp) != 100*mib || quotaRows(smp) != quotas {
			t.Fatalf("between reads: rss %v, %d quota series, want the last ones", rss(smp), quotaRows(smp))
		}
		if h := tr.snapshot().Header; h.RSSBytes == nil || *h.RSSBytes != 100*mib || h.HeapBytes == nil {
			t.Fatalf("header between reads: %+v", h)
		}
	}
	smp, asked = step(time.Second) // detailsEvery since the first
	if want := slices.Concat(FastFamilies(), slowGroups[0].families); !slices.Equal(asked, want) || rss(smp) != 100*mib {
		t.Fatalf("after %v asked %q (want %q), rss %v", detailsEvery, asked, want, rss(smp))
	}
	smp, asked = step(processEvery - detailsEvery) // processEvery since the first
	if !slices.Equal(asked, ScrapedFamilies()) || rss(smp) != 200*mib {
		t.Fatalf("after %v asked %q, rss %v", processEvery, asked, rss(smp))
	}
	if h := tr.snapshot().Header; h.RSSBytes == nil || *h.RSSBytes != 200*mib {
		t.Fatalf("header: %+v", h.RSSBytes)
	}
	f.mu.Lock()
	f.asked = nil
	f.mu.Unlock()
	sc.ScrapeAll(context.Background())
	f.mu.Lock()
	if len(f.asked) != 1 || !slices.Equal(f.asked[0], ScrapedFamilies()) {
		t.Fatalf("ScrapeAll asked %q", f.asked)
	}
	f.asked = nil
	f.mu.Unlock()
	f.down = errRefused
	f.clock.Add(time.Second)
	sc.Scrape(context.Background())
	f.down = nil
	if _, asked = step(time.Second); !slices.Equal(asked, ScrapedFamilies()) {
		t.Fatalf("after a failure asked %q", asked)
	}
	if _, asked = step(time.Second); !slices.Equal(asked, FastFamilies()) {
		t.Fatalf("then asked %q", asked)
	}
	// A key that loses metrics.read: the public exposition (the only one
	// the fake notes: the admin call is refused first) is asked for the
	// slow families at once (the admin one's are not carried over).
	f.metricsForbidden = true
	f.mu.Lock()
	f.asked = nil
	f.mu.Unlock()
	f.clock.Add(time.Second)
	smp = sc.Scrape(context.Background())
	f.mu.Lock()
	asked2 := f.asked
	f.mu.Unlock()
	if len(asked2) != 1 || !slices.Equal(asked2[0], ScrapedFamilies()) || smp.Tenants || quotaRows(smp) != 0 || rss(smp) != 200*mib {
		t.Fatalf("public fallback asked %q, tenants %v, %d quota series, rss %v", asked2, smp.Tenants, quotaRows(smp), rss(smp))
	}
}
