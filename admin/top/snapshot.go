package top

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/akidb/akidb/serve/access"
)

// Snapshot is everything the panes show, computed from the samples so
// far; `akidb top --once --output json` prints it. Numbers that are not
// known (a metric the server lacks, a rate before the second scrape) are
// null.
type Snapshot struct {
	Server string `json:"server"`
	// At is the newest scrape's time.
	At time.Time `json:"at"`
	// KeySource says where the API key came from when top found it itself
	// (the bootstrap admin key file).
	KeySource string `json:"key_source,omitempty"`
	// Reachable: the newest scrape got an answer. Error says why not;
	// LastGood is the newest scrape that got one.
	Reachable bool       `json:"reachable"`
	Error     string     `json:"error,omitempty"`
	LastGood  *time.Time `json:"last_good,omitempty"`
	Header    Header     `json:"header"`
	Traffic   Traffic    `json:"traffic"`
	Tenants   Tenants    `json:"tenants"`
	Storage   Storage    `json:"storage"`
	DLQ       DLQ        `json:"dlq"`
}

// Header is the server's vital signs.
type Header struct {
	Version string `json:"version,omitempty"`
	// Readiness is ready, starting, stopping (the /readyz answer), or
	// "HTTP <status>" for another answer.
	Readiness       string     `json:"readiness,omitempty"`
	UptimeSeconds   *float64   `json:"uptime_seconds"`
	RSSBytes        *float64   `json:"rss_bytes"`
	HeapBytes       *float64   `json:"heap_bytes"`
	Collections     *float64   `json:"collections"`
	Vectors         *float64   `json:"vectors"`
	IndexBacklog    *float64   `json:"index_backlog"`
	WALBytes        *float64   `json:"wal_bytes"`
	FsyncP99Seconds *float64   `json:"fsync_p99_seconds"`
	LastCheckpoint  *time.Time `json:"last_checkpoint"`
}

// Traffic is requests by operation.
type Traffic struct {
	// Unavailable says why there is nothing (the metrics did not answer);
	// Error says the newest scrape of them failed (the last answer is
	// shown).
	Unavailable string `json:"unavailable,omitempty"`
	Error       string `json:"error,omitempty"`
	// IntervalSeconds is what the rates are over (0 before the second
	// scrape); QuantileWindowSeconds what p50 and p99 are over; each
	// sparkline value is the rate over SparkColumnSeconds, oldest first.
	IntervalSeconds       float64     `json:"interval_seconds"`
	QuantileWindowSeconds float64     `json:"quantile_window_seconds"`
	SparkColumnSeconds    float64     `json:"spark_column_seconds"`
	Ops                   []OpTraffic `json:"ops"`
	Errors                ErrorCounts `json:"errors"`
}

// OpTraffic is one operation (query, insert, get, delete, admin) over
// REST and gRPC; the monitoring reads (probes, metrics, storage status,
// DLQ list, status) are not counted.
type OpTraffic struct {
	Op         string     `json:"op"`
	PerSecond  *float64   `json:"per_second"`
	P50Seconds *float64   `json:"p50_seconds"`
	P99Seconds *float64   `json:"p99_seconds"`
	Total      float64    `json:"total"`
	Spark      []*float64 `json:"sparkline"`
}

// ErrorCounts are answers refused: 429 (rate limited), 503 (shed,
// unavailable) and the other 4xx, per second over the interval and since
// the server started.
type ErrorCounts struct {
	Other4xxPerSecond    *float64 `json:"other_4xx_per_second"`
	RateLimitedPerSecond *float64 `json:"429_per_second"`
	UnavailablePerSecond *float64 `json:"503_per_second"`
	Other4xxTotal        float64  `json:"other_4xx_total"`
	RateLimitedTotal     float64  `json:"429_total"`
	UnavailableTotal     float64  `json:"503_total"`
}

// Tenants is the rate limit and quota use per tenant, busiest first.
type Tenants struct {
	Unavailable string      `json:"unavailable,omitempty"`
	Error       string      `json:"error,omitempty"`
	Rows        []TenantRow `json:"rows"`
}

// TenantRow is one tenant.
type TenantRow struct {
	ID               string   `json:"id"`
	Name             string   `json:"name,omitempty"`
	AllowedPerSecond *float64 `json:"allowed_per_second"`
	LimitedPerSecond *float64 `json:"limited_per_second"`
	// Quota is usage ÷ limit per resource; null where there is no limit.
	Quota QuotaUse `json:"quota"`
}

// QuotaUse is usage ÷ limit (1 or more: growth is refused).
type QuotaUse struct {
	Vectors      *float64 `json:"vectors"`
	StorageBytes *float64 `json:"storage_bytes"`
	Collections  *float64 `json:"collections"`
}

// Storage is the object storage tier.
type Storage struct {
	Unavailable string `json:"unavailable,omitempty"`
	Error       string `json:"error,omitempty"`
	// Enabled: the server has an object store.
	Enabled bool `json:"enabled"`
	// Stores: the server has one object store (or none).
	Stores []Store `json:"stores"`
	// Uploads per second by result over the interval, and bytes shipped.
	UploadsPerSecond  *float64 `json:"uploads_per_second"`
	FailuresPerSecond *float64 `json:"failures_per_second"`
	RefusedPerSecond  *float64 `json:"refused_per_second"`
	BytesPerSecond    *float64 `json:"bytes_per_second"`
	// ShipLagSeconds is the worst collection's.
	ShipLagSeconds *float64 `json:"ship_lag_seconds"`
	// Resident and Evicted count collections in and out of memory
	// (akidb_collections_resident); ResidentUnavailable says why not.
	Resident            *float64            `json:"resident"`
	Evicted             *float64            `json:"evicted"`
	ResidentUnavailable string              `json:"resident_unavailable,omitempty"`
	Collections         []CollectionStorage `json:"collections"`
}

// Store is an object store and its circuit breaker.
type Store struct {
	Name    string               `json:"name"`
	Prefix  string               `json:"prefix"`
	Breaker access.BreakerStatus `json:"circuit_breaker"`
	// FailureRate is the breaker window's failed share (null: no calls).
	FailureRate *float64 `json:"failure_rate"`
}

// CollectionStorage is one collection's shipping state.
type CollectionStorage struct {
	Tenant         string  `json:"tenant"`
	Name           string  `json:"name"`
	Policy         string  `json:"policy"`
	ShipLagSeconds float64 `json:"ship_lag_seconds"`
	PendingUploads int     `json:"pending_uploads"`
	DLQPending     int     `json:"dlq_pending"`
	DLQPermanent   int     `json:"dlq_permanent"`
	LastError      string  `json:"last_error,omitempty"`
	// LoadState is resident, evicting, evicted, loading or unavailable
	// ("" from a server without cold collections); LoadReason says why
	// an unavailable collection cannot be loaded.
	LoadState  string `json:"load_state,omitempty"`
	LoadReason string `json:"load_reason,omitempty"`
}

// DLQ is the dead-letter queue, oldest first.
type DLQ struct {
	Unavailable string `json:"unavailable,omitempty"`
	Error       string `json:"error,omitempty"`
	Pending     int    `json:"pending"`
	Permanent   int    `json:"permanent"`
	// Truncated: the queue holds more than the entries fetched.
	Truncated bool     `json:"truncated"`
	Entries   []DLQRow `json:"entries"`
}

// DLQRow is one entry.
type DLQRow struct {
	ID          int64     `json:"id"`
	Status      string    `json:"status"`
	Tenant      string    `json:"tenant"`
	Collection  string    `json:"collection"`
	Operation   string    `json:"operation"`
	Kind        string    `json:"kind"`
	Object      string    `json:"object"`
	Retries     int       `json:"retries"`
	LastError   string    `json:"last_error"`
	CreatedAt   time.Time `json:"created_at"`
	AgeSeconds  float64   `json:"age_seconds"`
	NextAttempt time.Time `json:"next_attempt_at"`
}

// tracker folds samples into what a Snapshot is computed from: the
// history of points, and the newest answer of each source (kept while a
// source fails for a while).
type tracker struct {
	server, keySource string
	interval          time.Duration
	hist              history
	families          families
	tenantSeries      bool
	storage           *access.StorageStatus
	dlq               *access.DLQPage
	names             map[string]string
	version           string
	ready             string
	newest            Sample
	lastGood          time.Time
	any               bool // a sample came in
}

func newTracker(server, keySource string, interval time.Duration) *tracker {
	return &tracker{server: server, keySource: keySource, interval: interval}
}

// sparkSpan is one sparkline column's span.
func (t *tracker) sparkSpan() time.Duration { return max(sparkColumnSpan, t.interval) }

func (t *tracker) fold(s Sample) {
	t.any = true
	t.newest = s
	if s.Err != nil {
		return
	}
	t.lastGood = s.At
	if s.Ready.Status != 0 {
		t.ready = readiness(s.Ready.Status, s.Ready.Body)
	}
	if s.Families != nil {
		t.families, t.tenantSeries = s.Families, s.Tenants
		t.hist.add(pointOf(s.At, s.Families), sparkColumns*t.sparkSpan()+quantileWindow)
	}
	if s.Storage != nil || s.StorageOff != "" {
		t.storage = s.Storage
	}
	if s.DLQ != nil || s.StorageOff != "" {
		t.dlq = s.DLQ
	}
	if s.Names != nil {
		t.names = s.Names
	}
	if s.Version != "" {
		t.version = s.Version
	}
}

// readiness names a /readyz answer.
func readiness(status int, body string) string {
	var b struct {
		Status string `json:"status"`
	}
	switch {
	case status == 0:
		return ""
	case status == http.StatusOK:
		return "ready"
	case json.Unmarshal([]byte(body), &b) == nil && b.Status != "":
		return b.Status
	}
	return fmt.Sprintf("HTTP %d", status)
}

func ptr(v float64) *float64 { return &v }

func (t *tracker) snapshot() Snapshot {
	s := t.newest
	snap := Snapshot{Server: t.server, At: s.At, KeySource: t.keySource, Reachable: t.any && s.Err == nil}
	if s.Err != nil {
		snap.Error = describe(s.Err)
	}
	if !t.lastGood.IsZero() {
		lg := t.lastGood
		snap.LastGood = &lg
	}
	snap.Header = t.header(s.At)
	snap.Traffic = t.traffic(s)
	snap.Tenants = t.tenants(s)
	snap.Storage = t.storagePane(s)
	snap.DLQ = t.dlqPane(s)
	return snap
}

func (t *tracker) gauge(name string) *float64 {
	if v, ok := t.families.scalar(name); ok {
		return ptr(v)
	}
	return nil
}

func (t *tracker) header(now time.Time) Header {
	h := Header{Version: t.version, Readiness: t.ready,
		RSSBytes: t.gauge("process_resident_memory_bytes"), HeapBytes: t.gauge("go_memstats_heap_alloc_bytes"),
		Collections: t.gauge("akidb_collections"), Vectors: t.gauge("akidb_vectors"),
		IndexBacklog: t.gauge("akidb_index_backlog_vectors"), WALBytes: t.gauge("akidb_wal_bytes")}
	if start, ok := t.families.scalar("process_start_time_seconds"); ok && start > 0 {
		h.UptimeSeconds = ptr(max(0, float64(now.UnixNano())/1e9-start))
	}
	if at, ok := t.families.scalar("akidb_last_checkpoint_timestamp_seconds"); ok && at > 0 {
		ts := time.Unix(0, int64(at*1e9)).UTC()
		h.LastCheckpoint = &ts
	}
	if old, ok := t.hist.windowStart(quantileWindow); ok {
		last, _ := t.hist.last()
		if q, ok := last.fsync.sub(old.fsync).quantile(0.99); ok {
			h.FsyncP99Seconds = ptr(q)
		}
	}
	return h
}

// rate is (cur - old) per second between two points; nil when they are
// the same point.
func rate(cur, old float64, dt time.Duration) *float64 {
	if dt <= 0 {
		return nil
	}
	return ptr(max(0, cur-old) / dt.Seconds())
}

func (t *tracker) traffic(s Sample) Traffic {
	tr := Traffic{QuantileWindowSeconds: quantileWindow.Seconds(), SparkColumnSeconds: t.sparkSpan().Seconds()}
	last, ok := t.hist.last()
	if !ok {
		tr.Unavailable = "waiting for the server's metrics"
		if s.MetricsErr != nil {
			tr.Unavailable = "metrics: " + describe(s.MetricsErr)
		}
		return tr
	}
	if s.Err == nil && s.MetricsErr != nil {
		tr.Error = "metrics: " + describe(s.MetricsErr) + " (showing the last answer)"
	}
	prev, havePrev := t.hist.previous()
	var dt time.Duration
	if havePrev {
		dt = last.at.Sub(prev.at)
		tr.IntervalSeconds = dt.Seconds()
	}
	old, haveOld := t.hist.windowStart(quantileWindow)
	for op := range numOps {
		o := OpTraffic{Op: opNames[op], Total: last.ops[op].count}
		if havePrev {
			o.PerSecond = rate(last.ops[op].count, prev.ops[op].count, dt)
		}
		if haveOld {
			d := last.ops[op].sub(old.ops[op])
			if q, ok := d.quantile(0.5); ok {
				o.P50Seconds = ptr(q)
			}
			if q, ok := d.quantile(0.99); ok {
				o.P99Seconds = ptr(q)
			}
		}
		o.Spark = t.spark(func(p point) float64 { return p.ops[op].count })
		tr.Ops = append(tr.Ops, o)
	}
	e := &tr.Errors
	e.Other4xxTotal, e.RateLimitedTotal, e.UnavailableTotal = last.errors["4xx"], last.errors["429"], last.errors["503"]
	if havePrev {
		e.Other4xxPerSecond = rate(last.errors["4xx"], prev.errors["4xx"], dt)
		e.RateLimitedPerSecond = rate(last.errors["429"], prev.errors["429"], dt)
		e.UnavailablePerSecond = rate(last.errors["503"], prev.errors["503"], dt)
	}
	return tr
}

// spark is a counter's rate per sparkline column, oldest first, ending
// at the newest point; nil where the history does not reach.
func (t *tracker) spark(counter func(point) float64) []*float64 {
	out := make([]*float64, sparkColumns)
	last, ok := t.hist.last()
	if !ok {
		return out
	}
	span := t.sparkSpan()
	for i := range sparkColumns {
		end := last.at.Add(-time.Duration(sparkColumns-1-i) * span)
		a, okA := t.hist.at(end.Add(-span))
		b, okB := t.hist.at(end)
		if !okA || !okB || !b.at.After(a.at) {
			continue
		}
		out[i] = rate(counter(b), counter(a), b.at.Sub(a.at))
	}
	return out
}

func (t *tracker) tenants(s Sample) Tenants {
	var out Tenants
	switch {
	case !t.tenantSeries && s.TenantsOff != "":
		out.Unavailable = s.TenantsOff
		return out
	case !t.tenantSeries && s.TenantsErr != nil:
		out.Unavailable = "tenant metrics: " + describe(s.TenantsErr)
		return out
	case !t.tenantSeries:
		out.Unavailable = "waiting for the server's metrics"
		return out
	case s.TenantsErr != nil:
		out.Error = "tenant metrics: " + describe(s.TenantsErr) + " (showing the last answer)"
	}
	last, _ := t.hist.last()
	prev, havePrev := t.hist.previous()
	dt := last.at.Sub(prev.at)
	quota := map[string]*QuotaUse{}
	for _, m := range t.families["akidb_quota_usage_ratio"].GetMetric() {
		id := labelValue(m, "tenant")
		q := quota[id]
		if q == nil {
			q = &QuotaUse{}
			quota[id] = q
		}
		v := ptr(value(m))
		switch labelValue(m, "resource") {
		case "vectors":
			q.Vectors = v
		case "storage_bytes":
			q.StorageBytes = v
		case "collections":
			q.Collections = v
		}
	}
	for _, id := range tenantIDs(t.families) {
		row := TenantRow{ID: id, Name: t.names[id]}
		if havePrev {
			row.AllowedPerSecond = rate(last.allowed[id], prev.allowed[id], dt)
			row.LimitedPerSecond = rate(last.limited[id], prev.limited[id], dt)
		}
		if q := quota[id]; q != nil {
			row.Quota = *q
		}
		out.Rows = append(out.Rows, row)
	}
	load := func(r TenantRow) float64 {
		l := 0.0
		if r.AllowedPerSecond != nil {
			l += *r.AllowedPerSecond + *r.LimitedPerSecond
		}
		return l
	}
	sort.SliceStable(out.Rows, func(i, j int) bool {
		if li, lj := load(out.Rows[i]), load(out.Rows[j]); li != lj {
			return li > lj
		}
		return out.Rows[i].label() < out.Rows[j].label()
	})
	return out
}

// label is how a tenant is named: its name, else its id.
func (r TenantRow) label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}

func (t *tracker) storagePane(s Sample) Storage {
	out := Storage{Stores: []Store{}, Collections: []CollectionStorage{}}
	switch {
	case s.StorageOff != "":
		out.Unavailable = s.StorageOff
		return out
	case t.storage == nil && s.StorageErr != nil:
		out.Unavailable = "storage status: " + describe(s.StorageErr)
		return out
	case t.storage == nil:
		out.Unavailable = "waiting for the storage status"
		return out
	case s.StorageErr != nil:
		out.Error = "storage status: " + describe(s.StorageErr) + " (showing the last answer)"
	}
	st := t.storage
	out.Enabled = st.Enabled
	if st.Store != nil {
		b := st.Store.CircuitBreaker
		store := Store{Name: st.Store.Name, Prefix: st.Store.Prefix, Breaker: b}
		if b.Window.Calls > 0 {
			store.FailureRate = ptr(float64(b.Window.Failures) / float64(b.Window.Calls))
		}
		out.Stores = append(out.Stores, store)
	}
	if last, ok := t.hist.last(); ok {
		if prev, ok := t.hist.previous(); ok {
			dt := last.at.Sub(prev.at)
			out.UploadsPerSecond = rate(last.uploads["success"], prev.uploads["success"], dt)
			out.FailuresPerSecond = rate(last.uploads["failure"], prev.uploads["failure"], dt)
			out.RefusedPerSecond = rate(last.uploads["breaker_open"], prev.uploads["breaker_open"], dt)
			out.BytesPerSecond = rate(last.shipped, prev.shipped, dt)
		}
	}
	lag := 0.0
	for _, c := range st.Collections {
		lag = max(lag, c.ShipLagSeconds)
		out.Collections = append(out.Collections, CollectionStorage{Tenant: c.Tenant, Name: c.Name, Policy: c.TierPolicy,
			ShipLagSeconds: c.ShipLagSeconds, PendingUploads: c.PendingUploads, DLQPending: c.DLQ.Pending, DLQPermanent: c.DLQ.Permanent, LastError: c.LastError,
			LoadState: c.LoadState, LoadReason: c.LoadReason})
	}
	if st.Enabled {
		// The metric is read at every refresh; the status maybe not.
		if v, ok := t.families.scalar("akidb_tier_ship_lag_seconds"); ok {
			lag = v
		}
		out.ShipLagSeconds = ptr(lag)
	}
	out.Resident, out.Evicted, out.ResidentUnavailable = t.residency()
	return out
}

// residency reads akidb_collections_resident: with a state label
// (resident, evicted, ...) the counts by state; without, the resident
// count, the rest of akidb_collections being evicted.
func (t *tracker) residency() (resident, evicted *float64, why string) {
	mf := t.families["akidb_collections_resident"]
	if mf == nil {
		return nil, nil, offOld
	}
	byState := t.families.byLabel("akidb_collections_resident", "state")
	if _, labelled := byState[""]; !labelled && len(byState) > 0 {
		r, e := byState["resident"], 0.0
		for k, v := range byState {
			if k != "resident" {
				e += v
			}
		}
		return ptr(r), ptr(e), ""
	}
	r, _ := t.families.sum("akidb_collections_resident", nil)
	if all, ok := t.families.scalar("akidb_collections"); ok {
		return ptr(r), ptr(max(0, all-r)), ""
	}
	return ptr(r), nil, ""
}

func (t *tracker) dlqPane(s Sample) DLQ {
	out := DLQ{Entries: []DLQRow{}}
	switch {
	case s.StorageOff != "":
		out.Unavailable = s.StorageOff
		return out
	case t.storage == nil:
		out.Unavailable = "waiting for the storage status"
		return out
	}
	out.Pending, out.Permanent = t.storage.DLQ.Pending, t.storage.DLQ.Permanent
	if s.DLQErr != nil {
		out.Error = "dlq: " + describe(s.DLQErr) + " (showing the last answer)"
	}
	if t.dlq == nil {
		return out
	}
	for _, e := range t.dlq.Entries {
		out.Entries = append(out.Entries, DLQRow{ID: e.ID, Status: e.Status, Tenant: t.tenantName(e.TenantID), Collection: e.Collection,
			Operation: e.Operation, Kind: e.Kind, Object: e.ObjectKey, Retries: e.RetryCount, LastError: e.LastError,
			CreatedAt: e.CreatedAt, AgeSeconds: max(0, s.At.Sub(e.CreatedAt).Seconds()), NextAttempt: e.NextAttempt})
	}
	out.Truncated = len(out.Entries) < out.Pending+out.Permanent
	return out
}

func (t *tracker) tenantName(id string) string {
	if n := t.names[id]; n != "" {
		return n
	}
	return id
}
