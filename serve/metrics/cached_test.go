package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// countingCollector reports how often it was collected.
type countingCollector struct {
	desc  *prometheus.Desc
	calls int
}

func (c *countingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *countingCollector) Collect(ch chan<- prometheus.Metric) {
	c.calls++
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(c.calls))
}

// TestCachedCollector: within the TTL a scrape gets the previous
// collection; after it (or a clock going back) a fresh one.
func TestCachedCollector(t *testing.T) {
	now := time.Unix(1000, 0)
	inner := &countingCollector{desc: prometheus.NewDesc("x", "h", nil, nil)}
	cc := newCachedCollector(inner, time.Second, func() time.Time { return now })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(cc)
	for _, step := range []struct {
		advance time.Duration
		want    float64
	}{{0, 1}, {500 * time.Millisecond, 1}, {499 * time.Millisecond, 1}, {time.Millisecond, 2}, {-time.Hour, 3}, {time.Second, 4}} {
		now = now.Add(step.advance)
		if got := testutil.ToFloat64(cc); got != step.want {
			t.Fatalf("after %v: %v, want %v", step.advance, got, step.want)
		}
		if n, err := testutil.GatherAndCount(reg, "x"); err != nil || n != 1 {
			t.Fatalf("gather: %d %v", n, err)
		}
	}
}
