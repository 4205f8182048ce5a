package metrics

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Recorder is a Registerer that passes every registration on and keeps
// the collector, so Names can list every metric the server can export,
// including vectors with no series yet (a scrape shows only series that
// exist). The dashboard and alert rules in packaging/ are checked against
// it.
type Recorder struct {
	reg prometheus.Registerer

	mu         sync.Mutex
	collectors []prometheus.Collector
	// names are each collector's families, as its Describe says (nil for
	// an unchecked collector, which describes nothing); gen counts the
	// changes, so a Selective knows its subsets are out of date.
	names [][]string
	gen   uint64
}

// NewRecorder wraps reg.
func NewRecorder(reg prometheus.Registerer) *Recorder { return &Recorder{reg: reg} }

// Register registers c on the wrapped Registerer and keeps it.
func (r *Recorder) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	names := describe(c)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, c)
	r.names = append(r.names, names)
	r.gen++
	return nil
}

// MustRegister registers each collector, panicking on failure like the
// prometheus Registerer it stands for (only main-style code calls it).
func (r *Recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister unregisters c and forgets it.
func (r *Recorder) Unregister(c prometheus.Collector) bool {
	if !r.reg.Unregister(c) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.collectors, c); i >= 0 {
		r.collectors = slices.Delete(r.collectors, i, i+1)
		r.names = slices.Delete(r.names, i, i+1)
	}
	r.gen++
	return true
}

// Names returns the sorted names of every metric the registered
// collectors describe.
func (r *Recorder) Names() []string {
	r.mu.Lock()
	var names []string
	for _, n := range r.names {
		names = append(names, n...)
	}
	r.mu.Unlock()
	slices.Sort(names)
	return slices.Compact(names)
}

// describe lists the families c describes.
func describe(c prometheus.Collector) []string {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	var names []string
	for d := range ch {
		// The name shows only in the descriptor's String form.
		if name, err := quotedField(d.String(), "fqName: "); err == nil && name != "" {
			names = append(names, name)
		}
	}
	return names
}

// subset returns the collectors that describe one of wanted's families,
// the unchecked ones (which say nothing of theirs) included.
func (r *Recorder) subset(wanted map[string]bool) []prometheus.Collector {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []prometheus.Collector
	for i, c := range r.collectors {
		if len(r.names[i]) == 0 || slices.ContainsFunc(r.names[i], func(n string) bool { return wanted[n] }) {
			out = append(out, c)
		}
	}
	return out
}

// generation counts the registrations and unregistrations so far.
func (r *Recorder) generation() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}
