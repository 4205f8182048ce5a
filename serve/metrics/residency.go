package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collections leaving memory and coming back (docs/tiering.md): counters
// and durations fed by the engine as loads and evictions happen (Metrics
// implements engine.ResidencyObserver), gauges read at scrape time
// (SetResidencySource).

type residencyMetrics struct {
	loads         *prometheus.CounterVec
	loadDuration  *prometheus.HistogramVec
	evictions     *prometheus.CounterVec
	evictDuration *prometheus.HistogramVec
	counts, sizes *residencyCollector
}

func newResidencyMetrics() *residencyMetrics {
	return &residencyMetrics{
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "collection_loads_total",
			Help: "Loads of evicted collections into memory, by source (local: the snapshot and log on this disk; store: the object store) and result (success, failure).",
		}, []string{"source", "result"}),
		loadDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "collection_load_duration_seconds",
			Help:    "Duration of loads of evicted collections (room made, state read, log replayed), by source.",
			Buckets: longBuckets,
		}, []string{"source"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "collection_evictions_total",
			Help: "Evictions of collections from memory, by reason (budget, operator) and result (success, failure: the upload was not confirmed, or the collection was used meanwhile).",
		}, []string{"reason", "result"}),
		evictDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "collection_eviction_duration_seconds",
			Help:    "Duration of evictions (checkpoint, confirmed upload, drop), by reason; failed ones included.",
			Buckets: longBuckets,
		}, []string{"reason"}),
		counts: newResidencyCounts(),
		sizes:  newResidencySizes(),
	}
}

func (r *residencyMetrics) collectors() []prometheus.Collector {
	for _, s := range []string{"local", "store"} {
		for _, res := range []string{"success", "failure"} {
			r.loads.WithLabelValues(s, res)
		}
	}
	for _, reason := range []string{"budget", "operator"} {
		for _, res := range []string{"success", "failure"} {
			r.evictions.WithLabelValues(reason, res)
		}
	}
	return []prometheus.Collector{r.loads, r.loadDuration, r.evictions, r.evictDuration, r.counts, r.sizes}
}

func result(err error) string {
	if err != nil {
		return "failure"
	}
	return "success"
}

// CollectionLoaded implements engine.ResidencyObserver.
func (m *Metrics) CollectionLoaded(source string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.residency.loads.WithLabelValues(source, result(err)).Inc()
	m.residency.loadDuration.WithLabelValues(source).Observe(d.Seconds())
}

// CollectionEvicted implements engine.ResidencyObserver.
func (m *Metrics) CollectionEvicted(reason string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.residency.evictions.WithLabelValues(reason, result(err)).Inc()
	m.residency.evictDuration.WithLabelValues(reason).Observe(d.Seconds())
}

// ResidencyTotals are the residency gauges, read at scrape time.
type ResidencyTotals struct {
	// Resident counts the collections in memory, Unavailable those whose
	// load failed (they answer collection_unavailable).
	Resident, Unavailable int
	// ResidentBytes is what the collections in memory take; Budget the
	// memory budget (0: none); CacheBytes the local snapshots of s3-only
	// collections.
	ResidentBytes, Budget, CacheBytes int64
}

// SetResidencySource sets the function the residency gauges are read
// from at each scrape (akidb_collections_resident,
// akidb_collections_unavailable, akidb_collections_resident_bytes,
// akidb_tier_memory_budget_bytes, akidb_tier_s3_cache_bytes). sizes says
// whether ResidentBytes and CacheBytes are wanted: a scrape that asks
// only for the counts (name[], as akidb top does) does not make the
// source size every collection.
func (m *Metrics) SetResidencySource(f func(sizes bool) ResidencyTotals) {
	if m == nil {
		return
	}
	m.residency.counts.set(f)
	m.residency.sizes.set(f)
}

// residencyCollector exports some of the residency gauges: the counts,
// or the sizes (the budget goes with them), from the same source, as two
// collectors so that a selective scrape runs only the one it needs.
type residencyCollector struct {
	descs []*prometheus.Desc
	sizes bool
	// values picks the gauges of descs from the totals, in their order.
	values func(ResidencyTotals) []int64

	mu  sync.Mutex
	src func(sizes bool) ResidencyTotals
}

func residencyGauge(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, nil, nil)
}

func newResidencyCounts() *residencyCollector {
	return &residencyCollector{
		descs: []*prometheus.Desc{
			residencyGauge("collections_resident", "Collections in memory (resident or being evicted), over every tenant."),
			residencyGauge("collections_unavailable", "Collections whose load failed (their requests answer collection_unavailable until it succeeds)."),
		},
		values: func(t ResidencyTotals) []int64 { return []int64{int64(t.Resident), int64(t.Unavailable)} },
	}
}

func newResidencySizes() *residencyCollector {
	return &residencyCollector{
		descs: []*prometheus.Desc{
			residencyGauge("collections_resident_bytes", "Memory the collections in memory take (their memory_bytes; those loading at their last size)."),
			residencyGauge("tier_memory_budget_bytes", "The memory budget of the collections in memory (--tier-memory-budget; 0: none, nothing is evicted)."),
			residencyGauge("tier_s3_cache_bytes", "Local snapshots of s3-only collections (bounded by --s3-cache-bytes)."),
		},
		sizes:  true,
		values: func(t ResidencyTotals) []int64 { return []int64{t.ResidentBytes, t.Budget, t.CacheBytes} },
	}
}

func (c *residencyCollector) set(f func(sizes bool) ResidencyTotals) {
	c.mu.Lock()
	c.src = f
	c.mu.Unlock()
}

func (c *residencyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *residencyCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	if src == nil {
		return
	}
	for i, v := range c.values(src(c.sizes)) {
		ch <- gauge(c.descs[i], v)
	}
}
