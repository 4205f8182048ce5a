package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// countingCollector exports one gauge per name and counts its Collect
// calls; unchecked, it describes nothing.
type countingCollector struct {
	descs     []*prometheus.Desc
	unchecked bool
	collects  atomic.Int64
}

func newCounting(unchecked bool, names ...string) *countingCollector {
	c := &countingCollector{unchecked: unchecked}
	for _, n := range names {
		c.descs = append(c.descs, prometheus.NewDesc(n, "A test gauge.", []string{"tenant"}, nil))
	}
	return c
}

func (c *countingCollector) Describe(ch chan<- *prometheus.Desc) {
	if c.unchecked {
		return
	}
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *countingCollector) Collect(ch chan<- prometheus.Metric) {
	c.collects.Add(1)
	for _, d := range c.descs {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, 1, "t1")
	}
}

// scrape GETs h with the name[] parameters and returns the families'
// names, sorted (a merged exposition's order is not fixed).
func scrape(t *testing.T, h http.Handler, names ...string) []string {
	t.Helper()
	return scrapeIn(t, context.Background(), h, names...)
}

// scrapeIn is scrape with the request's context (an admitted request of
// the server has a deadline: its request timeout).
func scrapeIn(t *testing.T, ctx context.Context, h http.Handler, names ...string) []string {
	t.Helper()
	u := "/metrics"
	if len(names) > 0 {
		u += "?" + url.Values{"name[]": names}.Encode()
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequestWithContext(ctx, http.MethodGet, u, nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, w.Code, w.Body)
	}
	dec := expfmt.NewDecoder(w.Body, expfmt.ResponseFormat(w.Header()))
	var got []string
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			slices.Sort(got)
			return got
		}
		if err != nil {
			t.Fatalf("GET %s: decode: %v", u, err)
		}
		got = append(got, mf.GetName())
	}
}

// TestSelectiveHandlerRunsOnlyTheCollectorsAsked: with name[], the answer
// holds exactly the families asked for that exist, and only the
// collectors that export one of them run (and the unchecked ones, which
// do not say what they export); without, everything runs and is served.
// Collectors registered or unregistered later are taken into account.
func TestSelectiveHandlerRunsOnlyTheCollectorsAsked(t *testing.T) {
	public, tenants := prometheus.NewRegistry(), prometheus.NewRegistry()
	pubRec, tenRec := NewRecorder(public), NewRecorder(tenants)
	a := newCounting(false, "a_one", "a_two")
	b := newCounting(false, "b")
	u := newCounting(true, "u")
	ten := newCounting(false, "a_one_by_tenant", "shared")
	pubShared := newCounting(false, "shared")
	pubRec.MustRegister(a, b, u, pubShared, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	tenRec.MustRegister(ten)
	h := SelectiveHandler(prometheus.Gatherers{public, tenants}, pubRec, tenRec)
	counts := func() []int64 {
		return []int64{a.collects.Load(), b.collects.Load(), u.collects.Load(), ten.collects.Load(), pubShared.collects.Load()}
	}

	if got := scrape(t, h, "a_one", "process_resident_memory_bytes", "a_one"); !slices.Equal(got, []string{"a_one", "process_resident_memory_bytes"}) {
		t.Fatalf("asked a_one and the RSS: got %q", got)
	}
	if c := counts(); !slices.Equal(c, []int64{1, 0, 1, 0, 0}) {
		t.Fatalf("collects (a, b, unchecked, tenant, shared) %v, want a and the unchecked one only", c)
	}
	// Asked again, the same (kept) subset runs.
	scrape(t, h, "process_resident_memory_bytes", "a_one")
	if c := counts(); !slices.Equal(c, []int64{2, 0, 2, 0, 0}) {
		t.Fatalf("collects again %v", c)
	}
	// A family of both registries is merged, as the full gatherer does.
	if got := scrape(t, h, "shared", "u"); !slices.Equal(got, []string{"shared", "u"}) {
		t.Fatalf("asked shared and u: got %q", got)
	}
	if c := counts(); !slices.Equal(c, []int64{2, 0, 3, 1, 1}) {
		t.Fatalf("collects %v", c)
	}
	if got := scrape(t, h, "nothing_such"); len(got) != 0 {
		t.Fatalf("asked a family nobody exports: got %q", got)
	}
	all := scrape(t, h)
	for _, want := range []string{"a_one", "a_two", "a_one_by_tenant", "b", "shared", "u", "process_resident_memory_bytes", "process_start_time_seconds"} {
		if !slices.Contains(all, want) {
			t.Fatalf("the full exposition lacks %s: %q", want, all)
		}
	}
	if c := counts(); c[1] != 1 {
		t.Fatalf("the full exposition did not run b: %v", c)
	}

	late := newCounting(false, "late")
	pubRec.MustRegister(late)
	if got := scrape(t, h, "late", "a_two"); !slices.Equal(got, []string{"a_two", "late"}) {
		t.Fatalf("after a registration: got %q", got)
	}
	if !pubRec.Unregister(a) {
		t.Fatal("unregister a")
	}
	before := a.collects.Load()
	if got := scrape(t, h, "late", "a_two"); !slices.Equal(got, []string{"late"}) || a.collects.Load() != before {
		t.Fatalf("after unregistering a: got %q, a collected %d more times", got, a.collects.Load()-before)
	}
	if names := pubRec.Names(); slices.Contains(names, "a_one") || !slices.Contains(names, "late") {
		t.Fatalf("Names after the changes: %q", names)
	}
}

// TestSelectiveHandlerBoundsItsSubsets: any number of different name sets
// (anyone may ask /metrics) is served right while at most maxSubsets
// gatherers are kept.
func TestSelectiveHandlerBoundsItsSubsets(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := NewRecorder(reg)
	var names []string
	for i := range 3 * maxSubsets {
		n := "g" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		names = append(names, n)
		rec.MustRegister(newCounting(false, n))
	}
	h := SelectiveHandler(reg, rec).(*selective)
	for _, n := range names {
		if got := scrape(t, h, n); !slices.Equal(got, []string{n}) {
			t.Fatalf("asked %s: got %q", n, got)
		}
		h.mu.Lock()
		kept := len(h.subsets)
		h.mu.Unlock()
		if kept > maxSubsets {
			t.Fatalf("%d subsets kept, at most %d", kept, maxSubsets)
		}
	}
}

// TestSelectiveHandlerCollectsInOneGoroutine: a request with name[] and
// no deadline collects in one goroutine for all the collectors it runs, whichever registry
// they are on, and starts no other. A registry gathers each collector in a goroutine of its
// own; for a monitor's request after a second of idleness each start
// wakes an idle thread of the runtime (docs/top.md).
func TestSelectiveHandlerCollectsInOneGoroutine(t *testing.T) {
	public, tenants := prometheus.NewRegistry(), prometheus.NewRegistry()
	pubRec, tenRec := NewRecorder(public), NewRecorder(tenants)
	var names []string
	for i := range 10 {
		p, q := fmt.Sprintf("akidb_public_%d", i), fmt.Sprintf("akidb_tenant_%d", i)
		pubRec.MustRegister(newCounting(false, p))
		tenRec.MustRegister(newCounting(false, q))
		names = append(names, p, q)
	}
	h := SelectiveHandler(prometheus.Gatherers{public, tenants}, pubRec, tenRec)
	if got := scrape(t, h, names...); len(got) != 20 {
		t.Fatalf("got %d families, want 20: %q", len(got), got)
	}
	// Every GC worker is started by now, so only the scrape creates any.
	runtime.GC()
	for range 5 {
		before := goroutinesCreated()
		if got := scrape(t, h, names...); len(got) != 20 {
			t.Fatalf("got %d families, want 20: %q", len(got), got)
		}
		// The collecting one (a registry starts a second to close its
		// channels when that is done).
		if n := goroutinesCreated() - before; n > 1 {
			t.Fatalf("a scrape of 20 collectors on 2 registries started %d goroutines, want 1", n)
		}
	}
}

// goroutinesCreated is how many goroutines the process has created.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// gaugesHandler is a selective handler of n counting collectors, one
// family each, and the families' names.
func gaugesHandler(n int) (http.Handler, []string) {
	reg := prometheus.NewRegistry()
	rec := NewRecorder(reg)
	var names []string
	for i := range n {
		name := fmt.Sprintf("akidb_gauge_%d", i)
		rec.MustRegister(newCounting(false, name))
		names = append(names, name)
	}
	return SelectiveHandler(reg, rec), names
}

// TestSelectiveHandlerCollectsInTheRequestsGoroutine: a request with
// name[] whose context has a deadline (an admitted request's: its request
// timeout) runs the collectors in its own goroutine from its subset's
// second scrape on, and starts none; the first, which learns how many
// metrics the collectors send, and a request without a deadline start
// one (TestSelectiveHandlerCollectsInOneGoroutine).
func TestSelectiveHandlerCollectsInTheRequestsGoroutine(t *testing.T) {
	h, names := gaugesHandler(10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if got := scrapeIn(t, ctx, h, names...); len(got) != 10 {
		t.Fatalf("got %d families, want 10: %q", len(got), got)
	}
	runtime.GC() // every GC worker is started by now
	for range 5 {
		before := goroutinesCreated()
		if got := scrapeIn(t, ctx, h, names...); len(got) != 10 {
			t.Fatalf("got %d families, want 10: %q", len(got), got)
		}
		if n := goroutinesCreated() - before; n != 0 {
			t.Fatalf("a scrape with a deadline started %d goroutines, want none", n)
		}
	}
}

// growingCollector sends n gauges of one family; once sent exceeds
// fillThen, at the point where the channel it was given is full, it
// calls then (once) before sending the rest.
type growingCollector struct {
	desc     *prometheus.Desc
	n        atomic.Int64
	then     func()
	calledAt atomic.Int64
}

func (c *growingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *growingCollector) Collect(ch chan<- prometheus.Metric) {
	n := int(c.n.Load())
	for i := range n {
		if i == cap(ch) && c.then != nil && c.calledAt.Load() == 0 {
			c.calledAt.Store(int64(i))
			c.then()
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(i), fmt.Sprint(i))
	}
}

// TestInlineCollectionOutgrowingItsChannel: a collector that sends more
// than the inline collection's channel holds (a family grown fourfold
// since the last scrape) blocks until the request's context ends; then
// the rest is taken by a goroutine and the answer is whole. The next
// scrape collects inline again, in a channel of room enough.
func TestInlineCollectionOutgrowingItsChannel(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := NewRecorder(reg)
	c := &growingCollector{desc: prometheus.NewDesc("akidb_many", "A test gauge.", []string{"i"}, nil)}
	c.n.Store(10)
	rec.MustRegister(c)
	h := SelectiveHandler(reg, rec)
	count := func(ctx context.Context) int {
		t.Helper()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/metrics?name[]=akidb_many", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		return strings.Count(w.Body.String(), "akidb_many{")
	}
	long, cancelLong := context.WithTimeout(context.Background(), time.Hour)
	defer cancelLong()
	for range 2 { // the first learns the count, the second collects inline
		if n := count(long); n != 10 {
			t.Fatalf("%d metrics, want 10", n)
		}
	}
	// Grown past the channel (room for 256): the request's context ends
	// (as at its timeout) once the channel is full.
	c.n.Store(3000)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	c.then = cancel
	if n := count(ctx); n != 3000 {
		t.Fatalf("%d metrics after the channel filled, want 3000", n)
	}
	if c.calledAt.Load() != minInlineChan {
		t.Fatalf("the channel filled at %d metrics, want %d", c.calledAt.Load(), minInlineChan)
	}
	// The next scrape's channel has room for them: inline, no goroutine.
	c.then = nil
	before := goroutinesCreated()
	if n := count(long); n != 3000 {
		t.Fatalf("%d metrics, want 3000", n)
	}
	if n := goroutinesCreated() - before; n != 0 {
		t.Fatalf("the scrape after the rescue started %d goroutines, want none", n)
	}
}

// panickyCollector exports one gauge, or panics while panicking is set.
type panickyCollector struct {
	desc      *prometheus.Desc
	panicking atomic.Bool
}

func (c *panickyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *panickyCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1)
	if c.panicking.Load() {
		panic("collector broken")
	}
}

// TestInlineCollectionAfterAPanic: a collector that panics in an inline
// collection panics the request (the server answers it with a 500), leaves
// nothing waiting on the request's context, and the next scrape answers
// without what the broken one had sent.
func TestInlineCollectionAfterAPanic(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := NewRecorder(reg)
	c := &panickyCollector{desc: prometheus.NewDesc("akidb_panicky", "A test gauge.", nil, nil)}
	rec.MustRegister(c)
	h := SelectiveHandler(reg, rec)
	long, cancelLong := context.WithTimeout(context.Background(), time.Hour)
	defer cancelLong()
	for range 2 {
		scrapeIn(t, long, h, "akidb_panicky")
	}
	c.panicking.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	func() {
		defer func() {
			if r := recover(); r != "collector broken" {
				t.Fatalf("recovered %v, want the collector's panic", r)
			}
		}()
		scrapeIn(t, ctx, h, "akidb_panicky")
	}()
	before := goroutinesCreated()
	cancel()
	if n := goroutinesCreated() - before; n != 0 {
		t.Fatalf("ending the panicked scrape's context started %d goroutines, want none", n)
	}
	c.panicking.Store(false)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequestWithContext(long, http.MethodGet, "/metrics?name[]=akidb_panicky", nil))
	if n := strings.Count(w.Body.String(), "akidb_panicky 1"); w.Code != http.StatusOK || n != 1 {
		t.Fatalf("after the panic: status %d, %d gauges:\n%s", w.Code, n, w.Body)
	}
}

// TestSelectiveHandlerConcurrentScrapes: scrapes of one subset at once,
// one collecting inline and the others in a goroutine each, all answer
// every family (run with -race).
func TestSelectiveHandlerConcurrentScrapes(t *testing.T) {
	h, names := gaugesHandler(8)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if got := scrapeIn(t, ctx, h, names...); len(got) != 8 {
					t.Errorf("got %d families, want 8: %q", len(got), got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestResidencyCountsAskNoSizes: a scrape of the residency counts alone
// (akidb top's refresh) does not make the source size the collections;
// one that asks for a size does, and the full exposition shows both.
func TestResidencyCountsAskNoSizes(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := NewRecorder(reg)
	m, err := New(rec)
	if err != nil {
		t.Fatal(err)
	}
	var sized, counted atomic.Int64
	m.SetResidencySource(func(sizes bool) ResidencyTotals {
		if sizes {
			sized.Add(1)
			return ResidencyTotals{Resident: 2, ResidentBytes: 100, Budget: 1000, CacheBytes: 7}
		}
		counted.Add(1)
		return ResidencyTotals{Resident: 2}
	})
	h := SelectiveHandler(reg, rec)
	if got := scrape(t, h, "akidb_collections_resident"); !slices.Equal(got, []string{"akidb_collections_resident"}) || sized.Load() != 0 || counted.Load() != 1 {
		t.Fatalf("asked the resident count: got %q, the source sized %d times and counted %d", got, sized.Load(), counted.Load())
	}
	if got := scrape(t, h, "akidb_collections_resident_bytes"); !slices.Equal(got, []string{"akidb_collections_resident_bytes"}) || sized.Load() != 1 {
		t.Fatalf("asked the resident bytes: got %q, sized %d times", got, sized.Load())
	}
	if v := gaugeValue(t, reg, "akidb_collections_resident_bytes"); v != 100 {
		t.Fatalf("akidb_collections_resident_bytes %v", v)
	}
	if v := gaugeValue(t, reg, "akidb_collections_resident"); v != 2 {
		t.Fatalf("akidb_collections_resident %v", v)
	}
}

// TestSelectiveAnswerHasItsLength: an answer to name[] goes out with its
// Content-Length (one write), not chunked as net/http sends a body of
// more than 2 KiB written in parts; the full exposition is unchanged.
func TestSelectiveAnswerHasItsLength(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := NewRecorder(reg)
	rec.MustRegister(newCounting(false, "a_two"))
	big := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "a_one", Help: "A test gauge of many series."}, []string{"tenant"})
	for i := range 300 {
		big.WithLabelValues(fmt.Sprint("tenant-", i)).Set(float64(i))
	}
	rec.MustRegister(big)
	srv := httptest.NewServer(SelectiveHandler(reg, rec))
	defer srv.Close()
	get := func(query string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", "identity") // as akidb top asks
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get("?name[]=a_one")
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 || len(body) < 8<<10 ||
		!strings.Contains(string(body), `a_one{tenant="tenant-299"} 299`) || strings.Contains(string(body), "a_two") {
		t.Fatalf("name[]=a_one: status %d, length %d for %d bytes, transfer encoding %q:\n%s", resp.StatusCode, resp.ContentLength, len(body), resp.TransferEncoding, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	if full, _ := io.ReadAll(get("").Body); !strings.Contains(string(full), "a_two") {
		t.Fatalf("the full exposition:\n%s", full)
	}
}

// TestSelectiveAnswersAsTheRegistry: the families a name[] scrape gathers
// without a registry are those the full registries gather (names, help,
// types, metrics with their labels and values, in the same order), for
// counters, gauges, histograms and families split over both registries.
func TestSelectiveAnswersAsTheRegistry(t *testing.T) {
	public, tenants := prometheus.NewRegistry(), prometheus.NewRegistry()
	pubRec, tenRec := NewRecorder(public), NewRecorder(tenants)
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t_requests_total", Help: `Requests, by "op".`}, []string{"op", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "t_latency_seconds", Help: "Latency.", Buckets: []float64{0.01, 0.1, 1}}, []string{"op"})
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "t_ready", Help: "Ready."}, func() float64 { return 1 })
	for i, op := range []string{"query", "insert", "delete"} {
		requests.WithLabelValues(op, "200").Add(float64(10 * (i + 1)))
		requests.WithLabelValues(op, "429").Inc()
		latency.WithLabelValues(op).Observe(0.05 * float64(i+1))
	}
	pubRec.MustRegister(requests, latency, ready, newCounting(false, "t_shared", "t_not_asked"))
	shared := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "t_shared", Help: "A test gauge."}, []string{"tenant"})
	shared.WithLabelValues("t0").Set(3)
	shared.WithLabelValues("t2").Set(4)
	tenRec.MustRegister(shared)
	full := prometheus.Gatherers{public, tenants}
	h := SelectiveHandler(full, pubRec, tenRec)
	asked := []string{"t_latency_seconds", "t_ready", "t_requests_total", "t_shared"}

	deadline, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	mfs, err := full.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []expfmt.Format{expfmt.NewFormat(expfmt.TypeTextPlain), expfmt.NewFormat(expfmt.TypeProtoDelim)} {
		var want bytes.Buffer
		enc := expfmt.NewEncoder(&want, format)
		for _, mf := range mfs {
			if slices.Contains(asked, mf.GetName()) {
				if err := enc.Encode(mf); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Without a deadline (a goroutine collects; it learns the count),
		// then with one (the request's goroutine collects).
		for i, ctx := range []context.Context{context.Background(), deadline, deadline} {
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/metrics?"+url.Values{"name[]": asked}.Encode(), nil)
			req.Header.Set("Accept", string(format))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK || w.Body.String() != want.String() {
				t.Fatalf("name[] in %s, scrape %d, answered %d:\n%q\nthe registries gather:\n%q", format, i, w.Code, w.Body, want.String())
			}
		}
	}
}
