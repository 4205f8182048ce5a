package metrics

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// subsetGatherer gathers the families a selective scrape asks for from
// the collectors that export them, without a prometheus.Registry. A
// registry's Gather allocates two channels of a thousand metrics (32 KiB)
// and hash maps for its consistency checks at every call: for akidb top's
// few kilobytes, every second, most of what a refresh allocated, and so of
// the garbage collections it caused (docs/top.md). The collectors were
// checked when they were registered on the full registry, whose Gather
// (the whole exposition) still checks what they collect.
type subsetGatherer struct {
	collectors []prometheus.Collector
	wanted     map[string]bool
	descs      *descNames
	// sent is the most metrics one collection sent: it sizes the room
	// the next gets in its channel, or sends it to a goroutine.
	sent atomic.Int64
}

// Gather implements prometheus.Gatherer: the families asked for, sorted
// by name, their metrics sorted by label values, as a registry returns
// them. A metric that cannot be written is left out with an error
// (promhttp serves the rest and logs it).
func (g *subsetGatherer) Gather() ([]*dto.MetricFamily, error) {
	byName := map[string]*dto.MetricFamily{}
	var errs prometheus.MultiError
	g.collect(func(m prometheus.Metric) {
		name, help, err := g.descs.of(m.Desc())
		if err != nil {
			errs = append(errs, err)
			return
		}
		if !g.wanted[name] {
			return // a family of the same collector not asked for
		}
		pb := &dto.Metric{}
		if err := m.Write(pb); err != nil {
			errs = append(errs, fmt.Errorf("collect %s: %w", name, err))
			return
		}
		typ, ok := metricType(pb)
		if !ok {
			errs = append(errs, fmt.Errorf("collect %s: a metric of no known type", name))
			return
		}
		mf := byName[name]
		if mf == nil {
			mf = &dto.MetricFamily{Name: &name, Help: &help, Type: &typ}
			byName[name] = mf
		} else if mf.GetType() != typ {
			errs = append(errs, fmt.Errorf("collect %s: a %s metric in a %s family", name, typ, mf.GetType()))
			return
		}
		mf.Metric = append(mf.Metric, pb)
	})
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		slices.SortFunc(mf.Metric, compareLabels)
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return out, errs.MaybeUnwrap()
}

// collect runs the collectors and hands visit, in the calling goroutine,
// every metric they send: they run in it too unless they sent too many
// last time.
func (g *subsetGatherer) collect(visit func(prometheus.Metric)) {
	var sent int
	if room := 2*int(g.sent.Load()) + minCollectRoom; room <= maxCollectRoom {
		sent = collectInline(g.collectors, room, collectRescueAfter, visit)
	} else {
		sent = collectConcurrently(g.collectors, visit)
	}
	if int64(sent) > g.sent.Load() {
		g.sent.Store(int64(sent)) // concurrent scrapes: any of their counts will do
	}
}

// Room for inline collection.
const (
	// minCollectRoom is the least room a collection gets in its channel,
	// over twice the most metrics a collection of the same families sent.
	minCollectRoom = 256
	// maxCollectRoom bounds the room (16 bytes a metric): families that
	// sent more than half of it are collected in a goroutine of their
	// own, as a registry does, instead of in a channel as large.
	maxCollectRoom = 4096
	// collectRescueAfter is how long collectors may run in the calling
	// goroutine before their channel is drained by another, in case they
	// send more than it has room for.
	collectRescueAfter = 100 * time.Millisecond
)

// collectInline runs the collectors in the calling goroutine, one after
// the other, and hands visit what they sent, in order; it returns how many
// metrics that was. A prometheus.Registry (and this gatherer before) runs
// collectors in goroutines of their own, reading their channel as they
// send: a goroutine started, its stack grown and handed the processor
// back and forth at every scrape, which for akidb top's scrape every
// second, served from an idle process, was about a tenth of its cost
// (docs/top.md). Collectors send into a channel with room for all they
// are expected to send; should they send more, the sender would block,
// so a timer started with them drains the channel into a slice after
// rescueAfter. The rescue costs nothing unless it fires.
func collectInline(collectors []prometheus.Collector, room int, rescueAfter time.Duration, visit func(prometheus.Metric)) int {
	ch := make(chan prometheus.Metric, room)
	var spilled []prometheus.Metric
	done, rescued := make(chan struct{}), make(chan struct{})
	rescue := time.AfterFunc(rescueAfter, func() {
		defer close(rescued)
		for {
			select {
			case m := <-ch:
				spilled = append(spilled, m)
			case <-done:
				return
			}
		}
	})
	func() {
		// Deferred so that a collector's panic (recovered by the server)
		// leaves no rescue behind.
		defer func() {
			if !rescue.Stop() {
				// The rescue started: stop it and take what it drained
				// (sent before what is still in the channel).
				close(done)
				<-rescued
			}
		}()
		for _, c := range collectors {
			c.Collect(ch)
		}
	}()
	n := len(spilled) + len(ch)
	for _, m := range spilled {
		visit(m)
	}
	for len(ch) > 0 {
		visit(<-ch)
	}
	return n
}

// collectConcurrently runs the collectors in a goroutine and hands visit
// what they send as they send it; it returns how many metrics that was.
func collectConcurrently(collectors []prometheus.Collector, visit func(prometheus.Metric)) int {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		defer close(ch)
		for _, c := range collectors {
			c.Collect(ch)
		}
	}()
	n := 0
	for m := range ch {
		visit(m)
		n++
	}
	return n
}

// metricType is the type of a written metric.
func metricType(m *dto.Metric) (dto.MetricType, bool) {
	switch {
	case m.Counter != nil:
		return dto.MetricType_COUNTER, true
	case m.Gauge != nil:
		return dto.MetricType_GAUGE, true
	case m.Histogram != nil:
		return dto.MetricType_HISTOGRAM, true
	case m.Summary != nil:
		return dto.MetricType_SUMMARY, true
	case m.Untyped != nil:
		return dto.MetricType_UNTYPED, true
	}
	return 0, false
}

// compareLabels orders metrics by their label values, label by label (the
// labels of one family have the same names, sorted).
func compareLabels(a, b *dto.Metric) int {
	for i := range min(len(a.Label), len(b.Label)) {
		if c := cmp.Compare(a.Label[i].GetName(), b.Label[i].GetName()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.Label), len(b.Label))
}

// maxDescNames bounds the descriptors whose names are kept: collectors
// make theirs once, but one that made a new one at every collection
// would otherwise grow the map without end.
const maxDescNames = 4096

// descNames keeps the name and help of each descriptor seen. client_golang
// shows them only in Desc.String, which formats the whole descriptor, too
// dear to call for every metric of every scrape.
type descNames struct {
	mu    sync.Mutex
	names map[*prometheus.Desc]descName
}

type descName struct{ name, help string }

func newDescNames() *descNames { return &descNames{names: map[*prometheus.Desc]descName{}} }

func (d *descNames) of(desc *prometheus.Desc) (name, help string, err error) {
	d.mu.Lock()
	n, ok := d.names[desc]
	d.mu.Unlock()
	if ok {
		return n.name, n.help, nil
	}
	s := desc.String()
	if n.name, err = quotedField(s, "fqName: "); err == nil {
		n.help, err = quotedField(s, "help: ")
	}
	if err != nil || n.name == "" {
		return "", "", fmt.Errorf("metric descriptor %s: no name and help (%v)", s, err)
	}
	d.mu.Lock()
	if len(d.names) >= maxDescNames {
		clear(d.names)
	}
	d.names[desc] = n
	d.mu.Unlock()
	return n.name, n.help, nil
}

// quotedField reads the Go-quoted string after key in a Desc's String.
func quotedField(s, key string) (string, error) {
	i := strings.Index(s, key)
	if i < 0 {
		return "", fmt.Errorf("no %q", key)
	}
	q, err := strconv.QuotedPrefix(s[i+len(key):])
	if err != nil {
		return "", err
	}
	return strconv.Unquote(q)
}
