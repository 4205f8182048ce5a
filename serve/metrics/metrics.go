package metrics

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every AkiDB metric.
const Namespace = "akidb"

// latencyBuckets suit request and search latencies on small machines:
// 100µs to 10s.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// fsyncBuckets: 50µs (NVMe) to 2.5s (a struggling SD card).
var fsyncBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// longBuckets suit checkpoints and recovery: 10ms to 10 minutes.
var longBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// Metrics holds AkiDB's collectors. Create it with New.
type Metrics struct {
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	grpcRequests  *prometheus.CounterVec
	grpcDuration  *prometheus.HistogramVec
	search        prometheus.Histogram
	upsert        prometheus.Histogram
	walFsync      prometheus.Histogram
	snapshot      prometheus.Histogram
	snapshotFails prometheus.Counter
	recovery      prometheus.Histogram
	replayed      prometheus.Counter
	stats         *statsCollector
	tier          *tierMetrics
	residency     *residencyMetrics
}

// New creates AkiDB's metrics and registers them, with the process and Go
// runtime collectors, on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, fmt.Errorf("metrics: a registerer is required")
	}
	m := &Metrics{
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "http_requests_total",
			Help: "REST requests served, by route template, method and HTTP status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:    "REST request latency, by route template and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		grpcRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "grpc_requests_total",
			Help: "gRPC unary calls served, by full method and status code.",
		}, []string{"method", "code"}),
		grpcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "grpc_request_duration_seconds",
			Help:    "gRPC unary call latency, by full method.",
			Buckets: latencyBuckets,
		}, []string{"method"}),
		search: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "search_duration_seconds",
			Help:    "Service time of successful queries (both transports).",
			Buckets: latencyBuckets,
		}),
		upsert: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "upsert_duration_seconds",
			Help:    "Service time of successful upserts, including the covering fsync (both transports).",
			Buckets: latencyBuckets,
		}),
		walFsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "wal_fsync_duration_seconds",
			Help:    "Duration of write-ahead log fsyncs.",
			Buckets: fsyncBuckets,
		}),
		snapshot: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "snapshot_duration_seconds",
			Help:    "Duration of collection checkpoints (snapshot written and log truncated), failed ones included.",
			Buckets: longBuckets,
		}),
		snapshotFails: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "snapshot_failures_total",
			Help: "Checkpoints that failed.",
		}),
		recovery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "recovery_duration_seconds",
			Help:    "Time to recover one collection at startup (snapshot load and log replay).",
			Buckets: longBuckets,
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "recovery_replayed_records_total",
			Help: "Write-ahead log records replayed during recovery.",
		}),
		stats:     newStatsCollector(),
		tier:      newTierMetrics(),
		residency: newResidencyMetrics(),
	}
	for _, c := range append([]prometheus.Collector{
		m.httpRequests, m.httpDuration, m.grpcRequests, m.grpcDuration,
		m.search, m.upsert, m.walFsync, m.snapshot, m.snapshotFails,
		m.recovery, m.replayed, m.stats,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	}, append(m.tier.collectors(), m.residency.collectors()...)...) {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// RegisterBuildInfo registers akidb_build_info{version}, always 1: the
// version a dashboard (or `akidb top`) shows without credentials.
func RegisterBuildInfo(reg prometheus.Registerer, version string) error {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help:        "Always 1; the version label is the server's version.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	g.Set(1)
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("register build info: %w", err)
	}
	return nil
}

// Handler serves the metrics g gathers in the Prometheus exposition
// formats.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Totals are the gauges computed at scrape time, over every tenant.
type Totals struct {
	Collections int
	Vectors     int
	// IndexBacklog is acknowledged vectors not yet linked into their HNSW
	// graph (searches scan them exactly until they are).
	IndexBacklog int
	// WALBytes is the size of every collection's write-ahead log up to its
	// last record: what a restart would replay at most.
	WALBytes int64
	// LastCheckpoint is when the newest snapshot of any collection was
	// written (zero: none has one).
	LastCheckpoint time.Time
	// Ready is whether /readyz answers 200: requests are accepted. It is
	// here so a monitor (akidb top) learns it with the metrics it asks
	// for anyway instead of with a request of its own.
	Ready bool
}

// SetStatsSource sets the function akidb_collections, akidb_vectors,
// akidb_index_backlog_vectors, akidb_wal_bytes and
// akidb_last_checkpoint_timestamp_seconds are read from at each scrape.
// Until it is set, and while it is nil, the gauges are absent (the
// checkpoint time also while no collection has a snapshot).
func (m *Metrics) SetStatsSource(f func() Totals) {
	if m == nil {
		return
	}
	m.stats.set(f)
}

// ObserveSearch records the service time of a successful query.
func (m *Metrics) ObserveSearch(d time.Duration) {
	if m == nil {
		return
	}
	m.search.Observe(d.Seconds())
}

// ObserveUpsert records the service time of a successful upsert.
func (m *Metrics) ObserveUpsert(d time.Duration) {
	if m == nil {
		return
	}
	m.upsert.Observe(d.Seconds())
}

// WALFsync implements engine.Observer.
func (m *Metrics) WALFsync(d time.Duration) {
	if m == nil {
		return
	}
	m.walFsync.Observe(d.Seconds())
}

// Checkpoint implements engine.Observer. The collection is not a label
// (cardinality); the engine logs which one failed.
func (m *Metrics) Checkpoint(_ string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.snapshot.Observe(d.Seconds())
	if err != nil {
		m.snapshotFails.Inc()
	}
}

// Recovered implements engine.Observer.
func (m *Metrics) Recovered(_ string, d time.Duration, replayed int) {
	if m == nil {
		return
	}
	m.recovery.Observe(d.Seconds())
	if replayed > 0 {
		m.replayed.Add(float64(replayed))
	}
}

// statsCollector reports collection and vector totals computed at scrape
// time, so they are never stale and cost nothing between scrapes.
type statsCollector struct {
	collections *prometheus.Desc
	vectors     *prometheus.Desc
	backlog     *prometheus.Desc
	walBytes    *prometheus.Desc
	checkpoint  *prometheus.Desc
	ready       *prometheus.Desc

	mu  sync.Mutex
	src func() Totals
}

func newStatsCollector() *statsCollector {
	return &statsCollector{
		collections: prometheus.NewDesc(Namespace+"_collections", "Collections, over every tenant.", nil, nil),
		vectors:     prometheus.NewDesc(Namespace+"_vectors", "Live vectors, over every tenant.", nil, nil),
		backlog: prometheus.NewDesc(Namespace+"_index_backlog_vectors",
			"Acknowledged vectors not yet linked into the HNSW graph (searched exactly until they are), over every tenant.", nil, nil),
		walBytes: prometheus.NewDesc(Namespace+"_wal_bytes",
			"Bytes of write-ahead log up to the last record, over every collection: what a restart would replay at most.", nil, nil),
		checkpoint: prometheus.NewDesc(Namespace+"_last_checkpoint_timestamp_seconds",
			"When the newest snapshot of any collection was written (Unix time); absent while none has one.", nil, nil),
		ready: prometheus.NewDesc(Namespace+"_ready", "1 while the server accepts requests (/readyz answers 200), 0 while it starts or stops.", nil, nil),
	}
}

func (s *statsCollector) set(f func() Totals) {
	s.mu.Lock()
	s.src = f
	s.mu.Unlock()
}

func (s *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.collections
	ch <- s.vectors
	ch <- s.backlog
	ch <- s.walBytes
	ch <- s.checkpoint
	ch <- s.ready
}

func (s *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	src := s.src
	s.mu.Unlock()
	if src == nil {
		return
	}
	t := src()
	ch <- gauge(s.collections, t.Collections)
	ch <- gauge(s.vectors, t.Vectors)
	ch <- gauge(s.backlog, t.IndexBacklog)
	ch <- gauge(s.walBytes, t.WALBytes)
	if !t.LastCheckpoint.IsZero() {
		ch <- gauge(s.checkpoint, float64(t.LastCheckpoint.UnixNano())/1e9)
	}
	ready := 0
	if t.Ready {
		ready = 1
	}
	ch <- gauge(s.ready, ready)
}

func gauge[N int | int64 | float64](d *prometheus.Desc, v N) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, float64(v))
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}
