package metrics

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

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

	// sent is how many metrics the collectors sent at the last scrape
	// (-1: none yet), which sizes the channel of an inline collection.
	sent atomic.Int64
	// inline is held by the one scrape at a time that may collect in its
	// own goroutine (inlineGatherer).
	inline inlineSlot
}

// inlineSlot is what an inline collection keeps between scrapes: its
// channel, reused, and while held the scrape's context.
type inlineSlot struct {
	sync.Mutex
	ctx context.Context
	ch  chan prometheus.Metric
}

// Inline collection bounds: the channel has room for inlineRoom times the
// metrics of the last scrape, at least minInlineChan; a subset that sent
// more than maxInlineSent is collected by a goroutine (its channel would
// take more than a megabyte).
const (
	inlineRoom    = 4
	minInlineChan = 256
	maxInlineSent = 16 << 10
)

func newSubsetGatherer(collectors []prometheus.Collector, wanted map[string]bool, descs *descNames) *subsetGatherer {
	g := &subsetGatherer{collectors: collectors, wanted: wanted, descs: descs}
	g.sent.Store(-1)
	return g
}

// Gather implements prometheus.Gatherer: the families asked for, sorted
// by name, their metrics sorted by label values, as a registry returns
// them. A metric that cannot be written is left out with an error
// (promhttp serves the rest and logs it). The collectors run in a
// goroutine that sends to this one.
func (g *subsetGatherer) Gather() ([]*dto.MetricFamily, error) {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		defer close(ch)
		for _, c := range g.collectors {
			c.Collect(ch)
		}
	}()
	b := g.newFamilies()
	for m := range ch {
		b.add(m)
	}
	return b.done()
}

// inlineGatherer gathers as g does, for the scrape that holds g.inline,
// but runs the collectors in the scrape's own goroutine. Handing every
// metric from a collecting goroutine to the scrape's readies one or the
// other again and again, and each time the runtime may wake an idle
// thread to look for work: for akidb top's request after a second of
// idleness, 7 of about 60 thread wake-ups over 11 requests, and 5 to
// 10% of the CPU the request cost the server (docs/top.md).
//
// A collector blocks when the channel is full, and no one else would
// empty it: so the channel has room for inlineRoom times what the
// collectors sent last time, and should one of them have grown faster
// than that, the end of the scrape's context (the request timeout, or the
// client gone) starts a goroutine that empties it. A scrape whose context
// has no deadline, or the first of a subset, uses Gather.
type inlineGatherer struct{ g *subsetGatherer }

func (ig inlineGatherer) Gather() ([]*dto.MetricFamily, error) {
	g := ig.g
	ctx := g.inline.ctx
	sent := g.sent.Load()
	if _, bounded := ctx.Deadline(); !bounded || sent < 0 || sent > maxInlineSent {
		return g.Gather()
	}
	room := max(minInlineChan, inlineRoom*int(sent))
	if cap(g.inline.ch) < room {
		g.inline.ch = make(chan prometheus.Metric, room)
	}
	// Taken until emptied: a panic leaves it to be made again.
	ch := g.inline.ch
	g.inline.ch = nil
	rescued, wasRescued := collectInto(ctx, g.collectors, ch)
	b := g.newFamilies()
	if wasRescued {
		for _, m := range rescued {
			b.add(m)
		}
		return b.done() // the channel was closed: the next scrape makes one
	}
	for range len(ch) {
		b.add(<-ch)
	}
	g.inline.ch = ch
	return b.done()
}

// collectInto runs the collectors, sending to ch. Should ctx end first
// (a collector blocked on a full channel keeps it from returning), a
// goroutine empties ch from then on: then ch is closed and what it took
// returned, with wasRescued. Else (and if a collector panics, once
// nothing waits on ch) ch holds everything sent.
func collectInto(ctx context.Context, collectors []prometheus.Collector, ch chan prometheus.Metric) (rescued []prometheus.Metric, wasRescued bool) {
	var took []prometheus.Metric
	emptied := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(emptied)
		for m := range ch {
			took = append(took, m)
		}
	})
	defer func() {
		if stop() {
			return // the rescue never started
		}
		close(ch)
		<-emptied
		rescued, wasRescued = took, true
	}()
	for _, c := range collectors {
		c.Collect(ch)
	}
	return nil, false
}

// families groups the metrics of one scrape into their families.
type families struct {
	g      *subsetGatherer
	sent   int64
	byName map[string]*dto.MetricFamily
	errs   prometheus.MultiError
}

func (g *subsetGatherer) newFamilies() *families {
	return &families{g: g, byName: map[string]*dto.MetricFamily{}}
}

func (f *families) add(m prometheus.Metric) {
	f.sent++
	name, help, err := f.g.descs.of(m.Desc())
	if err != nil {
		f.errs = append(f.errs, err)
		return
	}
	if !f.g.wanted[name] {
		return // a family of the same collector not asked for
	}
	pb := &dto.Metric{}
	if err := m.Write(pb); err != nil {
		f.errs = append(f.errs, fmt.Errorf("collect %s: %w", name, err))
		return
	}
	typ, ok := metricType(pb)
	if !ok {
		f.errs = append(f.errs, fmt.Errorf("collect %s: a metric of no known type", name))
		return
	}
	mf := f.byName[name]
	if mf == nil {
		mf = &dto.MetricFamily{Name: &name, Help: &help, Type: &typ}
		f.byName[name] = mf
	} else if mf.GetType() != typ {
		f.errs = append(f.errs, fmt.Errorf("collect %s: a %s metric in a %s family", name, typ, mf.GetType()))
		return
	}
	mf.Metric = append(mf.Metric, pb)
}

// done sorts the families and their metrics and records how many the
// collectors sent.
func (f *families) done() ([]*dto.MetricFamily, error) {
	f.g.sent.Store(f.sent)
	out := make([]*dto.MetricFamily, 0, len(f.byName))
	for _, mf := range f.byName {
		slices.SortFunc(mf.Metric, compareLabels)
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return out, f.errs.MaybeUnwrap()
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
