package metrics

import (
	"regexp"
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
}

// NewRecorder wraps reg.
func NewRecorder(reg prometheus.Registerer) *Recorder { return &Recorder{reg: reg} }

// Register registers c on the wrapped Registerer and keeps it.
func (r *Recorder) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, c)
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
	r.collectors = slices.DeleteFunc(r.collectors, func(x prometheus.Collector) bool { return x == c })
	return true
}

// fqName reads a descriptor's name from its String form, the only place
// client_golang shows it.
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Names returns the sorted names of every metric the registered
// collectors describe.
func (r *Recorder) Names() []string {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	var names []string
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
