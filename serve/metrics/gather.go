package metrics

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

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
}

// Gather implements prometheus.Gatherer: the families asked for, sorted
// by name, their metrics sorted by label values, as a registry returns
// them. A metric that cannot be written is left out with an error
// (promhttp serves the rest and logs it).
func (g *subsetGatherer) Gather() ([]*dto.MetricFamily, error) {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		defer close(ch)
		for _, c := range g.collectors {
			c.Collect(ch)
		}
	}()
	byName := map[string]*dto.MetricFamily{}
	var errs prometheus.MultiError
	for m := range ch {
		name, help, err := g.descs.of(m.Desc())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !g.wanted[name] {
			continue // a family of the same collector not asked for
		}
		pb := &dto.Metric{}
		if err := m.Write(pb); err != nil {
			errs = append(errs, fmt.Errorf("collect %s: %w", name, err))
			continue
		}
		typ, ok := metricType(pb)
		if !ok {
			errs = append(errs, fmt.Errorf("collect %s: a metric of no known type", name))
			continue
		}
		mf := byName[name]
		if mf == nil {
			mf = &dto.MetricFamily{Name: &name, Help: &help, Type: &typ}
			byName[name] = mf
		} else if mf.GetType() != typ {
			errs = append(errs, fmt.Errorf("collect %s: a %s metric in a %s family", name, typ, mf.GetType()))
			continue
		}
		mf.Metric = append(mf.Metric, pb)
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		slices.SortFunc(mf.Metric, compareLabels)
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return out, errs.MaybeUnwrap()
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
