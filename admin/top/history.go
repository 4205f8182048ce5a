package top

import (
	"sort"
	"time"
)

// point is what one successful scrape contributes to rates, quantiles and
// sparklines: the counters and histograms, reduced to what the panes show.
type point struct {
	at time.Time
	// start is the server's process start time (0: unknown); a change
	// means a restart, and the counters start over.
	start float64
	ops   [numOps]hist
	// errors counts answers by class (4xx other than 429, 429, 503).
	errors map[string]float64
	fsync  hist
	// allowed and limited are the rate limit decisions by tenant id.
	allowed, limited map[string]float64
	// uploads by result (success, failure, breaker_open), and bytes.
	uploads map[string]float64
	shipped float64
}

// pointOf reduces a scrape's families to a point.
func pointOf(at time.Time, f families) point {
	p := point{at: at, errors: map[string]float64{}}
	p.start, _ = f.scalar("process_start_time_seconds")
	for _, m := range f["akidb_http_request_duration_seconds"].GetMetric() {
		if op, ok := restOp(labelValue(m, "route"), labelValue(m, "method")); ok {
			p.ops[op].add(m.GetHistogram())
		}
	}
	for _, m := range f["akidb_grpc_request_duration_seconds"].GetMetric() {
		if op, ok := grpcOp(labelValue(m, "method")); ok {
			p.ops[op].add(m.GetHistogram())
		}
	}
	for _, m := range f["akidb_http_requests_total"].GetMetric() {
		route, method := labelValue(m, "route"), labelValue(m, "method")
		if _, ok := restOp(route, method); !ok && route != unmatchedRoute {
			continue // the monitoring reads
		}
		if c := statusClass(labelValue(m, "status")); c != "" {
			p.errors[c] += value(m)
		}
	}
	for _, m := range f["akidb_grpc_requests_total"].GetMetric() {
		if _, ok := grpcOp(labelValue(m, "method")); !ok {
			continue
		}
		if c := grpcClass(labelValue(m, "code")); c != "" {
			p.errors[c] += value(m)
		}
	}
	p.fsync = f.histogram("akidb_wal_fsync_duration_seconds", nil)
	p.allowed = f.byLabel("akidb_ratelimit_allowed_total", "tenant")
	p.limited = f.byLabel("akidb_ratelimit_limited_total", "tenant")
	p.uploads = f.byLabel("akidb_tier_uploads_total", "result")
	p.shipped, _ = f.sum("akidb_tier_bytes_shipped_total", nil)
	return p
}

// restarted reports whether the server restarted between old and p: a
// new start time, or a counter that went down.
func (p point) restarted(old point) bool {
	if p.start != 0 && old.start != 0 && p.start != old.start {
		return true
	}
	for i := range p.ops {
		if p.ops[i].count < old.ops[i].count {
			return true
		}
	}
	return p.fsync.count < old.fsync.count
}

// history keeps the points of the last historySpan, oldest first.
type history struct {
	points []point
}

// Spans the history serves.
const (
	// quantileWindow is what latency quantiles are computed over.
	quantileWindow = 10 * time.Second
	// sparkColumns is how many values a sparkline has, each
	// sparkColumnSpan (or the interval, if longer) of time.
	sparkColumns    = 60
	sparkColumnSpan = 5 * time.Second
	// maxPoints bounds the history whatever the interval.
	maxPoints = 4096
)

// add appends p, starting over after a restart and dropping what no span
// needs any more.
func (h *history) add(p point, span time.Duration) {
	if n := len(h.points); n > 0 && p.restarted(h.points[n-1]) {
		h.points = h.points[:0]
	}
	h.points = append(h.points, p)
	cut := 0
	for cut < len(h.points)-1 && p.at.Sub(h.points[cut+1].at) >= span {
		cut++
	}
	if over := len(h.points) - maxPoints; over > cut {
		cut = over
	}
	if cut > 0 {
		h.points = append(h.points[:0], h.points[cut:]...)
	}
}

func (h *history) last() (point, bool) {
	if len(h.points) == 0 {
		return point{}, false
	}
	return h.points[len(h.points)-1], true
}

// previous is the point before the last one.
func (h *history) previous() (point, bool) {
	if len(h.points) < 2 {
		return point{}, false
	}
	return h.points[len(h.points)-2], true
}

// at is the newest point at or before t; ok is false when every point is
// newer.
func (h *history) at(t time.Time) (point, bool) {
	i := sort.Search(len(h.points), func(i int) bool { return h.points[i].at.After(t) })
	if i == 0 {
		return point{}, false
	}
	return h.points[i-1], true
}

// windowStart is the point to measure a window ending at the last point
// from: the newest at or before last-window, else the oldest (a shorter
// window); ok is false with fewer than two points.
func (h *history) windowStart(window time.Duration) (point, bool) {
	last, ok := h.last()
	if !ok || len(h.points) < 2 {
		return point{}, false
	}
	if p, ok := h.at(last.at.Add(-window)); ok {
		return p, true
	}
	return h.points[0], true
}
