package metrics

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// maxSubsets bounds the gatherers a selective handler keeps, one per set
// of families asked for (a monitor asks for the same one or two sets over
// and over; anyone may ask /metrics for others).
const maxSubsets = 16

// selective serves the exposition; asked for some families (the name[]
// parameter, as `akidb top` asks), it runs only the collectors that
// export one of them. promhttp filters by name[] too, but after running
// every collector: the process collector reading /proc, the quota
// collector walking the data directories and the Go runtime's would run
// at every refresh of a monitor that shows their numbers every few
// seconds only (docs/top.md).
type selective struct {
	full http.Handler
	recs []*Recorder

	descs *descNames

	mu      sync.Mutex
	gen     uint64
	subsets map[string]*subset
}

// subset serves one set of families: by the scrape that holds its
// gatherer's inline slot, collecting in that scrape's goroutine, else by
// a collecting goroutine.
type subset struct {
	g              *subsetGatherer
	inline, shared http.Handler
}

func (sub *subset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !sub.g.inline.TryLock() {
		sub.shared.ServeHTTP(w, r)
		return
	}
	defer sub.g.inline.Unlock()
	sub.g.inline.ctx = r.Context()
	defer func() { sub.g.inline.ctx = nil }()
	sub.inline.ServeHTTP(w, r)
}

// SelectiveHandler serves what full gathers; a request with name[] is
// served from a gatherer of recs' collectors that export one of the
// families named (and of their unchecked ones, which do not say what they
// export). full must gather exactly recs' registries, in their order.
func SelectiveHandler(full prometheus.Gatherer, recs ...*Recorder) http.Handler {
	return &selective{full: Handler(full), recs: recs, subsets: map[string]*subset{}, descs: newDescNames()}
}

func (s *selective) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	names := r.URL.Query()["name[]"]
	if len(names) == 0 {
		s.full.ServeHTTP(w, r)
		return
	}
	// The answer is small (a few kilobytes): buffered, it leaves in one
	// write with its length, instead of a chunked body whose first chunk
	// goes out when the writer's buffer fills and whose end goes in
	// another write, each waking the monitor waiting for it.
	b := buffers.Get().(*bufferedResponse)
	defer buffers.Put(b)
	b.reset()
	s.handler(names).ServeHTTP(b, r)
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(b.body.Len()))
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// bufferedResponse is an http.ResponseWriter that keeps the response.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

var buffers = sync.Pool{New: func() any { return &bufferedResponse{} }}

func (b *bufferedResponse) reset() {
	b.header, b.status = http.Header{}, http.StatusOK
	b.body.Reset()
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) { b.status = status }

func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

// handler is the handler for a set of families, made at its first use
// and kept while no collector is registered or unregistered.
func (s *selective) handler(names []string) *subset {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	key := strings.Join(names, "\x00")
	var gen uint64
	for _, r := range s.recs {
		gen += r.generation()
	}
	s.mu.Lock()
	if gen != s.gen || len(s.subsets) >= maxSubsets {
		clear(s.subsets)
		s.gen = gen
	}
	h := s.subsets[key]
	s.mu.Unlock()
	if h != nil {
		return h
	}
	wanted := make(map[string]bool, len(names))
	for _, n := range names {
		wanted[n] = true
	}
	var cs []prometheus.Collector
	for _, r := range s.recs {
		cs = append(cs, r.subset(wanted)...)
	}
	g := newSubsetGatherer(cs, wanted, s.descs)
	h = &subset{g: g, inline: Handler(inlineGatherer{g}), shared: Handler(g)}
	s.mu.Lock()
	if s.gen == gen {
		s.subsets[key] = h
	}
	s.mu.Unlock()
	return h
}
