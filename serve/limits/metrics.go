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

// ChangeCounter is what akidb_runtime_config_changes_total reads
// (*RuntimeConfig is one).
type ChangeCounter interface{ Changes() uint64 }

// QuotaReporter is what akidb_quota_usage_ratio reads (*Guard is one).
type QuotaReporter interface{ Report() []TenantReport }

// MetricsSources are read at scrape time; a nil one reads as zero. The
// quota gauges' source is set later, with SetQuotaReporter.
type MetricsSources struct {
	Shedder ShedCounter
	Config  ChangeCounter
}

// Metrics are the limits' Prometheus metrics:
//
//	akidb_ratelimit_allowed_total{tenant}       requests a tenant's buckets let through
//	akidb_ratelimit_limited_total{tenant}       requests refused with rate_limited
//	akidb_shed_requests_total                   requests refused by the in-flight bound
//	akidb_requests_in_flight                    requests admitted by the in-flight bound, not yet done
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
	for _, c := range []prometheus.Collector{shed, inFlight, changes} {
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
