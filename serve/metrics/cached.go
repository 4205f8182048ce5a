package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// processCacheTTL is how long the process collector's metrics are
// reused. Reading them (/proc/self/stat, /proc/stat for the boot time,
// limits, the fd directory, net/netstat) is about a third of what a
// scrape costs the server (0.5 ms of CPU on a small machine), which a
// scraper polling every second (akidb top) would otherwise pay each time.
// The values (CPU seconds, RSS, open files, network bytes) are at most
// this old; a Prometheus scrape every 15 s reads them fresh or 5 s old.
const processCacheTTL = 5 * time.Second

// cachedCollector collects c at most once per ttl and hands out the same
// metrics in between. The metrics must be immutable (const metrics, as
// the process collector makes).
type cachedCollector struct {
	c   prometheus.Collector
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	at time.Time
	ms []prometheus.Metric
}

func newCachedCollector(c prometheus.Collector, ttl time.Duration, now func() time.Time) *cachedCollector {
	if now == nil {
		now = time.Now
	}
	return &cachedCollector{c: c, ttl: ttl, now: now}
}

func (cc *cachedCollector) Describe(ch chan<- *prometheus.Desc) { cc.c.Describe(ch) }

func (cc *cachedCollector) Collect(ch chan<- prometheus.Metric) {
	cc.mu.Lock()
	if now := cc.now(); cc.ms == nil || now.Sub(cc.at) >= cc.ttl || now.Before(cc.at) {
		fresh := make(chan prometheus.Metric, 16)
		go func() {
			cc.c.Collect(fresh)
			close(fresh)
		}()
		ms := make([]prometheus.Metric, 0, len(cc.ms))
		for m := range fresh {
			ms = append(ms, m)
		}
		cc.ms, cc.at = ms, now
	}
	ms := cc.ms
	cc.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
}
