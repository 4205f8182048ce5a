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
	gauges        *residencyCollector
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
		gauges: newResidencyCollector(),
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
	return []prometheus.Collector{r.loads, r.loadDuration, r.evictions, r.evictDuration, r.gauges}
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
// akidb_tier_memory_budget_bytes, akidb_tier_s3_cache_bytes).
func (m *Metrics) SetResidencySource(f func() ResidencyTotals) {
	if m == nil {
		return
	}
	m.residency.gauges.set(f)
}

type residencyCollector struct {
	resident, unavailable, bytes, budget, cache *prometheus.Desc

	mu  sync.Mutex
	src func() ResidencyTotals
}

func newResidencyCollector() *residencyCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(Namespace+"_"+name, help, nil, nil)
	}
	return &residencyCollector{
		resident:    d("collections_resident", "Collections in memory (resident or being evicted), over every tenant."),
		unavailable: d("collections_unavailable", "Collections whose load failed (their requests answer collection_unavailable until it succeeds)."),
		bytes:       d("collections_resident_bytes", "Memory the collections in memory take (their memory_bytes; those loading at their last size)."),
		budget:      d("tier_memory_budget_bytes", "The memory budget of the collections in memory (--tier-memory-budget; 0: none, nothing is evicted)."),
		cache:       d("tier_s3_cache_bytes", "Local snapshots of s3-only collections (bounded by --s3-cache-bytes)."),
	}
}

func (c *residencyCollector) set(f func() ResidencyTotals) {
	c.mu.Lock()
	c.src = f
	c.mu.Unlock()
}

func (c *residencyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.resident, c.unavailable, c.bytes, c.budget, c.cache} {
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
	t := src()
	ch <- gauge(c.resident, t.Resident)
	ch <- gauge(c.unavailable, t.Unavailable)
	ch <- gauge(c.bytes, int(t.ResidentBytes))
	ch <- gauge(c.budget, int(t.Budget))
	ch <- gauge(c.cache, int(t.CacheBytes))
}
