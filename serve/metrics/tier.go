package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The object storage tier's metrics: counters fed by the tier as it works
// (Metrics implements tier.Observer), gauges read at scrape time from the
// tier's state (SetTierSource).

// uploadBuckets: a manifest over loopback (1 ms) to a large snapshot over
// a slow uplink (10 minutes).
var uploadBuckets = []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

type tierMetrics struct {
	uploads  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    prometheus.Counter
	retries  *prometheus.CounterVec
	gauges   *tierCollector
}

func newTierMetrics() *tierMetrics {
	return &tierMetrics{
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "tier_uploads_total",
			Help: "Uploads to the object store, by kind (snapshot, log, parquet, manifest) and result (success, failure, breaker_open).",
		}, []string{"kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "tier_upload_duration_seconds",
			Help:    "Duration of uploads to the object store (confirmation included), by kind; uploads refused by the breaker are not timed.",
			Buckets: uploadBuckets,
		}, []string{"kind"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "tier_bytes_shipped_total",
			Help: "Bytes uploaded to the object store and confirmed.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "dlq_retry_attempts_total",
			Help: "Retries of dead-letter queue entries, by result (success, failure, permanent_failure).",
		}, []string{"result"}),
		gauges: newTierCollector(),
	}
}

func (t *tierMetrics) collectors() []prometheus.Collector {
	// Every label value is known in advance: start them at zero so a
	// rate() over a fresh server sees them.
	for _, k := range []string{"snapshot", "log", "parquet", "manifest"} {
		for _, r := range []string{"success", "failure", "breaker_open"} {
			t.uploads.WithLabelValues(k, r)
		}
	}
	for _, r := range []string{"success", "failure", "permanent_failure"} {
		t.retries.WithLabelValues(r)
	}
	return []prometheus.Collector{t.uploads, t.duration, t.bytes, t.retries, t.gauges}
}

// Upload implements tier.Observer.
func (m *Metrics) Upload(kind, result string, d time.Duration, bytes int64) {
	if m == nil {
		return
	}
	m.tier.uploads.WithLabelValues(kind, result).Inc()
	if result == "breaker_open" {
		return
	}
	m.tier.duration.WithLabelValues(kind).Observe(d.Seconds())
	if result == "success" {
		m.tier.bytes.Add(float64(bytes))
	}
}

// DLQRetry implements tier.Observer.
func (m *Metrics) DLQRetry(result string) {
	if m == nil {
		return
	}
	m.tier.retries.WithLabelValues(result).Inc()
}

// TierTotals are the tier's gauges, read at scrape time.
type TierTotals struct {
	// Store names the object store (the breaker gauge's label).
	Store string
	// BreakerState is 0 closed, 1 half-open, 2 open.
	BreakerState int
	// DLQPending and DLQPermanent count the DLQ's entries.
	DLQPending, DLQPermanent int
	// ShipLag is the age of the oldest acknowledged write not yet shipped,
	// over every collection.
	ShipLag time.Duration
}

// SetTierSource sets the function the tier gauges are read from at each
// scrape (akidb_dlq_entries, akidb_tier_ship_lag_seconds,
// akidb_circuit_breaker_state). Until it is set, and without a tier, they
// are absent.
func (m *Metrics) SetTierSource(f func() (TierTotals, bool)) {
	if m == nil {
		return
	}
	m.tier.gauges.set(f)
}

type tierCollector struct {
	dlq     *prometheus.Desc
	lag     *prometheus.Desc
	breaker *prometheus.Desc

	mu  sync.Mutex
	src func() (TierTotals, bool)
}

func newTierCollector() *tierCollector {
	return &tierCollector{
		dlq: prometheus.NewDesc(Namespace+"_dlq_entries", "Dead-letter queue entries, by status (pending, permanent).", []string{"status"}, nil),
		lag: prometheus.NewDesc(Namespace+"_tier_ship_lag_seconds",
			"Age of the oldest acknowledged write not yet in the object store, over every collection (0: everything is).", nil, nil),
		breaker: prometheus.NewDesc(Namespace+"_circuit_breaker_state", "The object store's circuit breaker: 0 closed, 1 half-open, 2 open.", []string{"store"}, nil),
	}
}

func (c *tierCollector) set(f func() (TierTotals, bool)) {
	c.mu.Lock()
	c.src = f
	c.mu.Unlock()
}

func (c *tierCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.dlq
	ch <- c.lag
	ch <- c.breaker
}

func (c *tierCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	if src == nil {
		return
	}
	t, ok := src()
	if !ok {
		return
	}
	for _, m := range []struct {
		d      *prometheus.Desc
		v      float64
		labels []string
	}{
		{c.dlq, float64(t.DLQPending), []string{"pending"}},
		{c.dlq, float64(t.DLQPermanent), []string{"permanent"}},
		{c.lag, t.ShipLag.Seconds(), nil},
		{c.breaker, float64(t.BreakerState), []string{t.Store}},
	} {
		metric, err := prometheus.NewConstMetric(m.d, prometheus.GaugeValue, m.v, m.labels...)
		if err != nil {
			metric = prometheus.NewInvalidMetric(m.d, err)
		}
		ch <- metric
	}
}
