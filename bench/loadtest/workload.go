package loadtest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// BucketCount is the number of values of the "bucket" metadata field every
// record carries. Buckets are spread uniformly, so a filter on a window of
// w consecutive buckets matches w/BucketCount of the records.
const BucketCount = 10000

// BucketField is the metadata field filtered queries restrict.
const BucketField = "bucket"

// churnLag is how many churn collections exist at once: a create-drop draw
// drops the collection created churnLag creates earlier, so a drop never
// races the create of the same name (that create was churnLag*2 churn
// draws ago).
const churnLag = 8

// listLimit is the page size of a list (scroll) request.
const listLimit = 100

// ErrDeletesExhausted is returned by the Targeter when the deletes of a run
// exceed the ids set aside for them. Run sizes the set for the planned
// number of requests with a six-sigma margin, so this does not happen in
// practice; if it does, the attack stops and the report says so.
var ErrDeletesExhausted = errors.New("loadtest: more deletes than preloaded ids set aside for them")

// WorkloadConfig describes the requests a Workload generates.
type WorkloadConfig struct {
	// BaseURL is the server's root ("http://127.0.0.1:8080"), no trailing slash.
	BaseURL    string
	Collection string
	// Metric and the Vectors' dimension are used for churn collections.
	Metric string
	// Header is sent with every request (credentials); nil for none.
	Header  http.Header
	Vectors VectorSource
	Mix     Mix
	K, Ef   int
	// Rerank, when positive, is sent with every query.
	Rerank int
	// FilterSelectivity in (0, 1] makes every query carry a filter that
	// matches that fraction of the records; 0 sends unfiltered queries.
	FilterSelectivity float64
	InsertBatch       int
	// Preload is how many records (ids v0 .. v{Preload-1}) exist before
	// the load starts.
	Preload int
	// MaxDeletes preloaded ids, the highest ones, are set aside for
	// deletes; gets read only the others, so a get never meets a record
	// this run deleted. At most Preload/2.
	MaxDeletes int
	Seed       uint64
}

// Workload generates the load's requests. Each draw picks an operation
// from the mix with a seeded generator and builds the request; the sequence
// of requests (in draw order) depends only on the configuration and the
// seed. It is safe for concurrent use: the draw itself is serialised and
// the body, the costly part, is built outside the lock from the draw's index.
type Workload struct {
	cfg        WorkloadConfig
	collURL    string // .../api/v1/collections
	thisURL    string // .../api/v1/collections/{name}
	jsonHeader http.Header
	header     http.Header
	cum        []float64 // cumulative weights, parallel to cfg.Mix
	filterW    int       // bucket window width; 0 = no filter
	getLimit   uint64    // gets read ids [0, getLimit)

	mu           sync.Mutex
	rng          *rand.Rand
	draws        uint64
	nextID       uint64 // next fresh record id
	deletes      uint64 // deletes drawn
	churnCreated uint64
	churnDropped uint64
}

// NewWorkload checks cfg and builds the generator.
func NewWorkload(cfg WorkloadConfig) (*Workload, error) {
	switch {
	case cfg.Vectors == nil:
		return nil, fmt.Errorf("workload: no vector source")
	case len(cfg.Mix) == 0:
		return nil, fmt.Errorf("workload: empty mix")
	case cfg.K < 1:
		return nil, fmt.Errorf("workload: k must be at least 1")
	case cfg.InsertBatch < 1:
		return nil, fmt.Errorf("workload: insert batch must be at least 1")
	case cfg.FilterSelectivity < 0 || cfg.FilterSelectivity > 1:
		return nil, fmt.Errorf("workload: filter selectivity %g is outside [0, 1]", cfg.FilterSelectivity)
	case cfg.Preload < 0 || cfg.MaxDeletes < 0 || cfg.MaxDeletes > cfg.Preload/2:
		return nil, fmt.Errorf("workload: %d deletes do not fit %d preloaded records (at most half)", cfg.MaxDeletes, cfg.Preload)
	}
	if cfg.Preload == 0 && (cfg.Mix.Share(OpGet) > 0 || cfg.Mix.Share(OpDelete) > 0) {
		return nil, fmt.Errorf("workload: get and delete need preloaded records")
	}
	if cfg.Mix.Share(OpDelete) > 0 && cfg.MaxDeletes == 0 {
		return nil, fmt.Errorf("workload: the mix deletes but no ids are set aside for deletes")
	}
	w := &Workload{
		cfg:      cfg,
		collURL:  cfg.BaseURL + "/api/v1/collections",
		rng:      rand.New(rand.NewPCG(hash64(cfg.Seed, streamOps, 0), hash64(cfg.Seed, streamOps, 1))),
		nextID:   uint64(cfg.Preload),
		getLimit: uint64(cfg.Preload - cfg.MaxDeletes),
	}
	w.thisURL = w.collURL + "/" + url.PathEscape(cfg.Collection)
	w.header = cfg.Header.Clone()
	if w.header == nil {
		w.header = http.Header{}
	}
	w.jsonHeader = w.header.Clone()
	w.jsonHeader.Set("Content-Type", "application/json")
	var total float64
	for _, e := range cfg.Mix {
		total += e.Weight
		w.cum = append(w.cum, total)
	}
	if cfg.FilterSelectivity > 0 {
		w.filterW = max(1, int(math.Round(cfg.FilterSelectivity*BucketCount)))
	}
	return w, nil
}

// Targeter adapts the workload to vegeta.
func (w *Workload) Targeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		_, err := w.Next(t)
		return err
	}
}

// draw is what the serialised part of Next decides.
type draw struct {
	op    Op
	index uint64 // draw number: seeds the query vector and filter
	id    uint64 // get/delete: the record; insert: the first fresh id
	churn uint64 // create-drop: the collection number
	drop  bool   // create-drop: drop rather than create
}

// Next fills t with the next request and says which operation it is.
func (w *Workload) Next(t *vegeta.Target) (Op, error) {
	d, err := w.draw()
	if err != nil {
		return "", err
	}
	*t = vegeta.Target{}
	switch d.op {
	case OpQuery:
		t.Method, t.URL, t.Header = http.MethodPost, w.thisURL+"/query", w.jsonHeader
		t.Body = w.QueryBody(d.index, false)
	case OpInsert:
		t.Method, t.URL, t.Header = http.MethodPost, w.thisURL+"/insert", w.jsonHeader
		t.Body = w.InsertBody(d.id, uint64(w.cfg.InsertBatch))
	case OpGet:
		t.Method, t.URL, t.Header = http.MethodGet, w.thisURL+"/vectors/"+RecordID(d.id), w.header
	case OpDelete:
		t.Method, t.URL, t.Header = http.MethodDelete, w.thisURL+"/vectors/"+RecordID(d.id), w.header
	case OpList:
		t.Method, t.URL, t.Header = http.MethodGet, w.thisURL+"/vectors?limit="+strconv.Itoa(listLimit), w.header
	case OpCreateDrop:
		name := w.ChurnName(d.churn)
		if d.drop {
			t.Method, t.URL, t.Header = http.MethodDelete, w.collURL+"/"+name, w.header
		} else {
			t.Method, t.URL, t.Header = http.MethodPost, w.collURL, w.jsonHeader
			t.Body = fmt.Appendf(nil, `{"name":%q,"dimension":%d,"metric":%q}`, name, w.cfg.Vectors.Dim(), w.cfg.Metric)
		}
	}
	return d.op, nil
}

func (w *Workload) draw() (draw, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := draw{op: w.pick(w.rng.Float64() * w.cum[len(w.cum)-1]), index: w.draws}
	w.draws++
	switch d.op {
	case OpInsert:
		d.id = w.nextID
		w.nextID += uint64(w.cfg.InsertBatch)
	case OpGet:
		d.id = w.rng.Uint64N(w.getLimit)
	case OpDelete:
		if w.deletes >= uint64(w.cfg.MaxDeletes) {
			return draw{}, ErrDeletesExhausted
		}
		d.id = w.getLimit + w.deletes
		w.deletes++
	case OpCreateDrop:
		if w.churnCreated-w.churnDropped > churnLag {
			d.churn, d.drop = w.churnDropped, true
			w.churnDropped++
		} else {
			d.churn = w.churnCreated
			w.churnCreated++
		}
	}
	return d, nil
}

// pick is the operation whose cumulative weight interval holds x; an
// operation of weight zero is never picked.
func (w *Workload) pick(x float64) Op {
	last := Op("")
	for i, e := range w.cfg.Mix {
		if e.Weight <= 0 {
			continue
		}
		if x < w.cum[i] {
			return e.Op
		}
		last = e.Op
	}
	return last // x rounded up to the total
}

// RecordID is the id of record i: "v" and the decimal index.
func RecordID(i uint64) string { return "v" + strconv.FormatUint(i, 10) }

// ChurnName is the name of churn collection n.
func (w *Workload) ChurnName(n uint64) string {
	return w.cfg.Collection + "-churn-" + strconv.FormatUint(n, 10)
}

// ChurnAlive lists the churn collections created and not dropped yet, for
// clean-up after the load.
func (w *Workload) ChurnAlive() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var names []string
	for n := w.churnDropped; n < w.churnCreated; n++ {
		names = append(names, w.ChurnName(n))
	}
	return names
}

// Bucket is record i's "bucket" metadata value, uniform in [0, BucketCount).
func (w *Workload) Bucket(i uint64) int {
	return int(hash64(w.cfg.Seed, streamBucket, i) % BucketCount)
}

// FilterWindow is the bucket range [lo, hi) query j's filter accepts; ok is
// false when queries are unfiltered.
func (w *Workload) FilterWindow(j uint64) (lo, hi int, ok bool) {
	if w.filterW == 0 {
		return 0, 0, false
	}
	lo = int(hash64(w.cfg.Seed, streamFilter, j) % uint64(BucketCount-w.filterW+1))
	return lo, lo + w.filterW, true
}

// QueryBody is the body of query j; exact asks for the brute-force answer
// (the recall check's ground truth).
func (w *Workload) QueryBody(j uint64, exact bool) []byte {
	dim := w.cfg.Vectors.Dim()
	v := make([]float32, dim)
	w.cfg.Vectors.Query(j, v)
	b := make([]byte, 0, dim*12+128)
	b = append(b, `{"vector":`...)
	b = appendVector(b, v)
	b = append(b, `,"k":`...)
	b = strconv.AppendInt(b, int64(w.cfg.K), 10)
	if w.cfg.Ef > 0 {
		b = append(b, `,"ef":`...)
		b = strconv.AppendInt(b, int64(w.cfg.Ef), 10)
	}
	if w.cfg.Rerank > 0 && !exact {
		b = append(b, `,"rerank":`...)
		b = strconv.AppendInt(b, int64(w.cfg.Rerank), 10)
	}
	if lo, hi, ok := w.FilterWindow(j); ok {
		b = fmt.Appendf(b, `,"filter":{%q:{"$gte":%d,"$lt":%d}}`, BucketField, lo, hi)
	}
	if exact {
		b = append(b, `,"exact":true`...)
	}
	return append(b, '}')
}

// InsertBody is the body of an insert of records first .. first+n-1.
func (w *Workload) InsertBody(first, n uint64) []byte {
	dim := w.cfg.Vectors.Dim()
	v := make([]float32, dim)
	b := make([]byte, 0, int(n)*(dim*12+64)+16)
	b = append(b, `{"vectors":[`...)
	for i := first; i < first+n; i++ {
		if i > first {
			b = append(b, ',')
		}
		w.cfg.Vectors.Record(i, v)
		b = append(b, `{"id":"`...)
		b = append(b, RecordID(i)...)
		b = append(b, `","vector":`...)
		b = appendVector(b, v)
		b = fmt.Appendf(b, `,"metadata":{%q:%d}}`, BucketField, w.Bucket(i))
	}
	return append(b, "]}"...)
}

func appendVector(b []byte, v []float32) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return append(b, ']')
}

// OpOf classifies a request this workload generated by its method and URL.
func (w *Workload) OpOf(method, rawURL string) (Op, bool) {
	switch {
	case rawURL == w.collURL && method == http.MethodPost:
		return OpCreateDrop, true
	case rawURL == w.thisURL+"/query" && method == http.MethodPost:
		return OpQuery, true
	case rawURL == w.thisURL+"/insert" && method == http.MethodPost:
		return OpInsert, true
	case strings.HasPrefix(rawURL, w.thisURL+"/vectors?") && method == http.MethodGet:
		return OpList, true
	case strings.HasPrefix(rawURL, w.thisURL+"/vectors/"):
		switch method {
		case http.MethodGet:
			return OpGet, true
		case http.MethodDelete:
			return OpDelete, true
		}
	case strings.HasPrefix(rawURL, w.collURL+"/"+w.cfg.Collection+"-churn-") && method == http.MethodDelete:
		return OpCreateDrop, true
	}
	return "", false
}
