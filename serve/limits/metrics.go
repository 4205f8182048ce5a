package limits

import (
	"fmt"
	"math"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ShedCounter is what akidb_shed_requests_total reads
// (*ratelimit.Shedder is one). If it also has InFlight() int, as the
// Shedder does, akidb_requests_in_flight reads that.
type ShedCounter interface{ Shed() uint64 }

// inFlightCounter is the optional half of a ShedCounter.
type inFlightCounter interface{ InFlight() int }

// ShareCounter counts requests refused for their tenant's share of a
// bound (*ratelimit.Shedder and *ratelimit.Budget are ones).
type ShareCounter interface{ TenantRefused() uint64 }

// BudgetCounter is what the body budget's metrics read
// (*ratelimit.Budget is one).
type BudgetCounter interface {
	ShareCounter
	Refused() uint64
	Used() int64
	Max() int64
}

// ChangeCounter is what akidb_runtime_config_changes_total reads
// (*RuntimeConfig is one).
type ChangeCounter interface{ Changes() uint64 }

// QuotaReporter is what akidb_quota_usage_ratio reads (*Guard is one).
type QuotaReporter interface{ Report() []TenantReport }

// MetricsSources are read at scrape time; a nil one reads as zero. The
// quota gauges' source is set later, with SetQuotaReporter.
type MetricsSources struct {
	// Shedder is the in-flight bound; Bodies the bound of bodies being
	// read (REST), a ShedCounter too; Budget the body byte budget.
	Shedder ShedCounter
	Bodies  ShedCounter
	Budget  BudgetCounter
	Config  ChangeCounter
}

// Metrics are the limits' Prometheus metrics:
//
//	akidb_ratelimit_allowed_total{tenant}       requests a tenant's buckets let through
//	akidb_ratelimit_limited_total{tenant}       requests refused with rate_limited
//	akidb_shed_requests_total                   requests refused by the in-flight bound
//	akidb_requests_in_flight                    requests admitted by the in-flight bound, not yet done
//	akidb_tenant_share_refused_total{bound}     requests refused (429) for their tenant's share of a bound:
//	                                            in_flight, body_reads (REST bodies being read), body_bytes
//	akidb_body_reads_shed_total                 requests refused (503) because the server read its bound of bodies
//	akidb_body_budget_refused_total             requests refused (503) by the body budget
//	akidb_body_bytes_in_flight                  bytes of request bodies held now
//	akidb_body_budget_bytes                     the body budget (--max-inflight-body-bytes)
//	akidb_runtime_config_changes_total          runtime setting updates that changed something
//	akidb_quota_usage_ratio{tenant,resource}    usage / limit, for limited resources only
//
// The tenant label's values are tenant ids, made by administrators, so
// the label is bounded; ForgetTenant drops a deleted tenant's series.
// Tenant ids are not for everyone to read: the series with a tenant label
// go on their own registerer, which the server serves behind
// authentication (GET /admin/metrics), the others on the public one.
// Every method is safe on a nil *Metrics.
type Metrics struct {
	allowed *prometheus.CounterVec
	limited *prometheus.CounterVec
	quota   *quotaCollector
}

// NewMetrics creates the metrics and registers them (no global
// registration): those without a tenant label on public, the
// tenant-labelled ones on tenants.
func NewMetrics(public, tenants prometheus.Registerer, src MetricsSources) (*Metrics, error) {
	if public == nil || tenants == nil {
		return nil, fmt.Errorf("limits metrics: a public and a tenants registerer are required")
	}
	m := &Metrics{
		allowed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "akidb", Name: "ratelimit_allowed_total",
			Help: "Requests the tenant's (and key's) token buckets let through.",
		}, []string{"tenant"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "akidb", Name: "ratelimit_limited_total",
			Help: "Requests refused with rate_limited (429) by the tenant's or key's token bucket.",
		}, []string{"tenant"}),
		quota: &quotaCollector{desc: prometheus.NewDesc("akidb_quota_usage_ratio",
			"Tenant usage divided by its quota, for resources with a limit (collections, vectors, storage_bytes, disk_bytes); 1 or more means further growth is refused.",
			[]string{"tenant", "resource"}, nil)},
	}
	shed := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "akidb", Name: "shed_requests_total",
		Help: "Requests refused with unavailable (503) because too many were in flight.",
	}, func() float64 {
		if src.Shedder == nil {
			return 0
		}
		return float64(src.Shedder.Shed())
	})
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "akidb", Name: "requests_in_flight",
		Help: "Requests admitted by the in-flight bound (--max-in-flight) and not yet done, both transports.",
	}, func() float64 {
		if c, ok := src.Shedder.(inFlightCounter); ok {
			return float64(c.InFlight())
		}
		return 0
	})
	changes := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "akidb", Name: "runtime_config_changes_total",
		Help: "Runtime setting updates that changed a value since the server started.",
	}, func() float64 {
		if src.Config == nil {
			return 0
		}
		return float64(src.Config.Changes())
	})
	collectors := []prometheus.Collector{shed, inFlight, changes}
	collectors = append(collectors, budgetMetrics(src)...)
	for _, c := range collectors {
		if err := public.Register(c); err != nil {
			return nil, fmt.Errorf("register limits metrics: %w", err)
		}
	}
	for _, c := range []prometheus.Collector{m.allowed, m.limited, m.quota} {
		if err := tenants.Register(c); err != nil {
			return nil, fmt.Errorf("register limits metrics: %w", err)
		}
	}
	return m, nil
}

// ObserveRateLimit counts one rate limit decision for the tenant. Call it
// only for requests that went through a bucket (Decision.Limited()).
func (m *Metrics) ObserveRateLimit(tenantID string, allowed bool) {
	if m == nil {
		return
	}
	if allowed {
		m.allowed.WithLabelValues(tenantID).Inc()
	} else {
		m.limited.WithLabelValues(tenantID).Inc()
	}
}

// SetQuotaReporter sets where akidb_quota_usage_ratio is read from at
// each scrape (a *Guard, once the engine is up). Nil removes it.
func (m *Metrics) SetQuotaReporter(r QuotaReporter) {
	if m == nil {
		return
	}
	m.quota.set(r)
}

// ForgetTenant drops a deleted tenant's rate limit series.
func (m *Metrics) ForgetTenant(tenantID string) {
	if m == nil {
		return
	}
	m.allowed.DeleteLabelValues(tenantID)
	m.limited.DeleteLabelValues(tenantID)
}

// quotaCollector computes akidb_quota_usage_ratio at scrape time.
type quotaCollector struct {
	desc *prometheus.Desc

	mu sync.Mutex
	r  QuotaReporter
}

func (c *quotaCollector) set(r QuotaReporter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.r = r
}

func (c *quotaCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *quotaCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	r := c.r
	c.mu.Unlock()
	if r == nil {
		return
	}
	for _, t := range r.Report() {
		for _, res := range []struct {
			name  string
			used  int64
			limit *int64
		}{
			{ResourceCollections, t.Usage.Collections, t.Effective.MaxCollections},
			{ResourceVectors, t.Usage.Vectors, t.Effective.MaxVectors},
			{ResourceStorageBytes, t.Usage.StorageBytes, t.Effective.MaxStorageBytes},
			{ResourceDiskBytes, t.Usage.DiskBytes, t.Effective.MaxDiskBytes},
		} {
			if res.limit == nil {
				continue
			}
			m, err := prometheus.NewConstMetric(c.desc, prometheus.GaugeValue, usageRatio(res.used, *res.limit), t.TenantID, res.name)
			if err != nil {
				m = prometheus.NewInvalidMetric(c.desc, err)
			}
			ch <- m
		}
	}
}

// usageRatio is used/limit; a zero limit (nothing allowed) reads 1 when
// nothing is used (at the limit) and +Inf otherwise.
func usageRatio(used, limit int64) float64 {
	if limit == 0 {
		if used <= 0 {
			return 1
		}
		return math.Inf(1)
	}
	return float64(used) / float64(limit)
}

// budgetMetrics are the counters of refusals for a tenant's share, and of
// the body bounds (reads and budget).
func budgetMetrics(src MetricsSources) []prometheus.Collector {
	refused := func(src any) func() float64 {
		return func() float64 {
			if c, ok := src.(ShareCounter); ok && c != nil {
				return float64(c.TenantRefused())
			}
			return 0
		}
	}
	shares := map[string]func() float64{
		"in_flight":  refused(src.Shedder),
		"body_reads": refused(src.Bodies),
		"body_bytes": refused(src.Budget),
	}
	var out []prometheus.Collector
	for _, bound := range []string{"in_flight", "body_reads", "body_bytes"} {
		out = append(out, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "akidb", Name: "tenant_share_refused_total",
			Help:        "Requests refused with rate_limited (429) because their tenant held its share (--tenant-in-flight-share) of a bound: in_flight (--max-in-flight), body_reads (REST bodies being read), body_bytes (--max-inflight-body-bytes).",
			ConstLabels: prometheus.Labels{"bound": bound},
		}, shares[bound]))
	}
	budget := func(f func(BudgetCounter) float64) func() float64 {
		return func() float64 {
			if src.Budget == nil {
				return 0
			}
			return f(src.Budget)
		}
	}
	return append(out,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "akidb", Name: "body_reads_shed_total",
			Help: "Requests refused with unavailable (503) because the server was reading its bound (--max-in-flight) of REST request bodies.",
		}, func() float64 {
			if src.Bodies == nil {
				return 0
			}
			return float64(src.Bodies.Shed())
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "akidb", Name: "body_budget_refused_total",
			Help: "Requests refused with unavailable (503) because the request bodies held would pass --max-inflight-body-bytes.",
		}, budget(func(b BudgetCounter) float64 { return float64(b.Refused()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "akidb", Name: "body_bytes_in_flight",
			Help: "Bytes of request bodies (REST) and messages (gRPC) held now, from the start of their reading until their answer.",
		}, budget(func(b BudgetCounter) float64 { return float64(b.Used()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "akidb", Name: "body_budget_bytes",
			Help: "The bound of akidb_body_bytes_in_flight (--max-inflight-body-bytes).",
		}, budget(func(b BudgetCounter) float64 { return float64(b.Max()) })),
	)
}
