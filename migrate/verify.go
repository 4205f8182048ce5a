package migrate

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/serve/limits"
)

// Verification is the end-of-run proof that v2 holds what v1 held.
type Verification struct {
	OK          bool              `json:"ok"`
	Collections []CollectionCheck `json:"collections"`
	Tenants     []string          `json:"tenant_mismatches,omitempty"`
	// V1Changed lists v1 files whose size or mtime changed during the run.
	V1Changed []string `json:"v1_changed,omitempty"`
}

// CollectionCheck is one collection's verification.
type CollectionCheck struct {
	Collection string `json:"collection"`
	V1Records  int64  `json:"v1_records"`
	V2Records  int64  `json:"v2_records"`
	CountOK    bool   `json:"count_ok"`
	// Checksums are order-independent: the sum, lane by lane, of the
	// SHA-256 of each record's id, vector as stored (normalised for
	// cosine) and metadata as compact JSON.
	V1Checksum string `json:"v1_checksum"`
	// V1Pass says how the v1 side (checksum and exact answers) was
	// computed: from the records as they were loaded (a run that loaded
	// the whole collection), or by reading the v1 lines again (a resumed
	// run, which did not see the records loaded before it).
	V1Pass     string `json:"v1_pass"`
	V2Checksum string `json:"v2_checksum"`
	ChecksumOK bool   `json:"checksum_ok"`
	// Queries sample queries: exact search in v2 must equal brute force
	// over the v1 lines; the graph's recall@10 against the same answers
	// must reach MinRecall.
	Queries         int     `json:"queries"`
	ExactMismatches int     `json:"exact_mismatches"`
	FirstMismatch   string  `json:"first_mismatch,omitempty"`
	ExactOK         bool    `json:"exact_ok"`
	Recall          float64 `json:"recall_at_10"`
	Ef              int     `json:"ef"`
	RecallOK        bool    `json:"recall_ok"`
	OK              bool    `json:"ok"`
}

// checksum adds record digests as four 64-bit lanes: the result does not
// depend on the order records are seen in.
type checksum [4]uint64

func (c *checksum) add(d [32]byte) {
	for i := range c {
		c[i] += binary.LittleEndian.Uint64(d[8*i:])
	}
}

func (c *checksum) merge(o checksum) {
	for i := range c {
		c[i] += o[i]
	}
}

func (c checksum) String() string {
	var b [32]byte
	for i, v := range c {
		binary.BigEndian.PutUint64(b[8*i:], v)
	}
	return hex.EncodeToString(b[:])
}

// recordDigest is SHA-256 of len(id) | id | vector (float32 bits, little
// endian) | metadata as compact JSON with sorted keys ("" for none).
func recordDigest(id string, vec []float32, meta map[string]any) ([32]byte, error) {
	h := sha256.New()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(len(id)))
	h.Write(b[:])
	h.Write([]byte(id))
	buf := make([]byte, 4*len(vec))
	for i, f := range vec {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
	}
	h.Write(buf)
	if len(meta) > 0 {
		raw, err := json.Marshal(meta)
		if err != nil {
			return [32]byte{}, err
		}
		h.Write(raw)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// stored returns v as the engine stores it: normalised for cosine.
func stored(v []float32, m distance.Metric) []float32 {
	if m == distance.Cosine {
		v = append([]float32(nil), v...)
		distance.Normalize(v)
	}
	return v
}

func (m *migration) verify(ctx context.Context) (*Verification, error) {
	v := &Verification{OK: true}
	for _, c := range m.plan.Collections {
		if !c.Migrate {
			continue
		}
		h, err := m.db.Collection(m.tenants[c.Tenant], c.V2Name)
		if err != nil {
			return nil, fmt.Errorf("verify %s: %w", c.Key(), err)
		}
		cc, err := m.verifyCollection(ctx, h, c)
		if err != nil {
			return nil, fmt.Errorf("verify %s: %w", c.Key(), err)
		}
		v.Collections = append(v.Collections, cc)
		v.OK = v.OK && cc.OK
	}
	v.Tenants = m.verifyTenants(ctx)
	v.V1Changed = m.plan.fp.changed(m.opts.V1Dir)
	v.OK = v.OK && len(v.Tenants) == 0 && len(v.V1Changed) == 0
	return v, nil
}

// verifyTenants checks every planned tenant and quota is in the catalog.
func (m *migration) verifyTenants(ctx context.Context) []string {
	var bad []string
	store := m.db.Meta()
	for _, t := range m.plan.Tenants {
		if !t.Migrate || t.IsDefault {
			continue
		}
		tn, err := store.GetTenantByName(ctx, t.V2Name)
		if err != nil {
			bad = append(bad, fmt.Sprintf("tenant %s: %v", t.V2Name, err))
			continue
		}
		q, err := store.GetQuota(ctx, tn.ID)
		if err != nil {
			bad = append(bad, fmt.Sprintf("tenant %s: %v", t.V2Name, err))
			continue
		}
		eqI := func(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
		eqF := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
		if !eqF(q.QPSLimit, t.Quota.QPSLimit) || !eqI(q.MaxCollections, t.Quota.MaxCollections) || !eqI(q.MaxVectors, t.Quota.MaxVectors) || !eqI(q.MaxStorageBytes, t.Quota.MaxStorageBytes) {
			bad = append(bad, fmt.Sprintf("tenant %s: the quota in v2 differs from the mapped v1 quota", t.V2Name))
		}
	}
	return bad
}

// truth is a query's brute-force answer over the v1 lines: the k nearest,
// kept in a max-heap by distance while scanning.
type truth []scored

type scored struct {
	id   string
	dist float32
}

func (t truth) Len() int           { return len(t) }
func (t truth) Less(i, j int) bool { return t[i].dist > t[j].dist }
func (t truth) Swap(i, j int)      { t[i], t[j] = t[j], t[i] }
func (t *truth) Push(x any)        { *t = append(*t, x.(scored)) }
func (t *truth) Pop() any {
	old := *t
	x := old[len(old)-1]
	*t = old[:len(old)-1]
	return x
}

func (t *truth) offer(s scored, k int) {
	if len(*t) < k {
		heap.Push(t, s)
	} else if s.dist < (*t)[0].dist {
		(*t)[0] = s
		heap.Fix(t, 0)
	}
}

// sorted returns the answers nearest first.
func (t truth) sorted() []scored {
	out := append([]scored(nil), t...)
	sort.Slice(out, func(i, j int) bool { return out[i].dist < out[j].dist })
	return out
}

func (m *migration) verifyCollection(ctx context.Context, h *engine.Handle, c *CollectionPlan) (CollectionCheck, error) {
	cc := CollectionCheck{Collection: c.Key(), V1Records: c.Records, V2Records: int64(h.Count()), Ef: m.opts.VerifyEf}
	cc.CountOK = cc.V1Records == cc.V2Records
	// The v2 checksum (a scroll of every record) and the sample queries
	// run side by side, the queries on opts.Workers goroutines: each exact
	// search scans the whole collection on one core, and they were the
	// longest part of a verification.
	var v2sum checksum
	sumDone := make(chan error, 1)
	go func() { sumDone <- v2Checksum(h, &v2sum) }()
	side := m.v1[c.Key()]
	cc.V1Pass = V1PassWhileLoading
	if side == nil {
		queries, err := m.sampleQueries(c)
		if err == nil {
			side, err = m.readV1Side(ctx, c, queries)
		}
		if err != nil {
			<-sumDone
			return cc, err
		}
		cc.V1Pass = V1PassReread
	}
	queries, answers := side.queries, side.answers
	checks := make([]queryCheck, len(queries))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(m.opts.Workers, len(queries)) {
		wg.Go(func() {
			for q := int(next.Add(1)) - 1; q < len(queries); q = int(next.Add(1)) - 1 {
				checks[q] = m.checkQuery(ctx, h, c, queries[q], answers[q].sorted())
			}
		})
	}
	wg.Wait()
	if err := <-sumDone; err != nil {
		return cc, err
	}
	cc.V2Checksum = v2sum.String()
	cc.V1Checksum = side.sum.String()
	cc.ChecksumOK = cc.V1Checksum == cc.V2Checksum
	cc.Queries = len(queries)
	var recall float64
	for q, ch := range checks {
		if ch.err != nil {
			return cc, ch.err
		}
		if ch.mismatch != "" {
			cc.ExactMismatches++
			if cc.FirstMismatch == "" {
				cc.FirstMismatch = fmt.Sprintf("query %d: %s", q, ch.mismatch)
			}
		}
		recall += ch.recall
	}
	cc.Recall = 1
	if len(queries) > 0 {
		cc.Recall = recall / float64(len(queries))
	}
	cc.ExactOK = cc.ExactMismatches == 0
	cc.RecallOK = cc.Recall >= MinRecall
	cc.OK = cc.CountOK && cc.ChecksumOK && cc.ExactOK && cc.RecallOK
	return cc, nil
}

// v2Checksum adds the digest of every record the collection holds to sum.
func v2Checksum(h *engine.Handle, sum *checksum) error {
	cursor := ""
	for {
		page, err := h.Scroll(cursor, 1000, true)
		if err != nil {
			return err
		}
		for _, r := range page.Records {
			d, err := recordDigest(r.ID, r.Vector, r.Metadata)
			if err != nil {
				return err
			}
			sum.add(d)
		}
		if page.NextCursor == "" {
			return nil
		}
		cursor = page.NextCursor
	}
}

// queryCheck is one sample query's outcome: why the exact search's answer
// differs from brute force over v1 ("" if it does not), and the graph's
// recall@10 against that answer.
type queryCheck struct {
	mismatch string
	recall   float64
	err      error
}

func (m *migration) checkQuery(ctx context.Context, h *engine.Handle, c *CollectionPlan, vec []float32, want []scored) queryCheck {
	exact, err := h.Search(ctx, engine.SearchRequest{Vector: vec, K: VerifyK, Exact: true})
	if err != nil {
		return queryCheck{err: err}
	}
	graph, err := h.Search(ctx, engine.SearchRequest{Vector: vec, K: VerifyK, Ef: m.opts.VerifyEf})
	if err != nil {
		return queryCheck{err: err}
	}
	return queryCheck{mismatch: sameAnswer(exact.Hits, want, c.metric), recall: recallAt(graph.Hits, want, c.metric)}
}

// sampleQueries returns the vectors (as stored: normalised for cosine) of
// up to VerifyQueries records spread evenly over the file. Queries taken
// from the data are what ANN recall is conventionally measured with; a
// point between two records (tried first) sits where, in a few hundred
// dimensions, many records are almost equally near, and measured the
// query rather than the index (recall 0.6 at ef 200 on 100k x 384-d
// clustered data whose self-queries reach 1.0).
func (m *migration) sampleQueries(c *CollectionPlan) ([][]float32, error) {
	n := min(m.opts.VerifyQueries, len(c.live))
	if n == 0 {
		return nil, nil
	}
	f, err := os.Open(c.DataFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sh := c.shape()
	out := make([][]float32, n)
	for i := range out {
		s := c.live[i*len(c.live)/n]
		line, err := readSpanAt(f, s)
		if err != nil {
			return nil, err
		}
		pl := parseLine(line, s.n, c.DataFile, s.line, sh, parseOptions{})
		if pl.kind != lineUpsert {
			return nil, fmt.Errorf("%s:%d changed since it was planned", c.DataFile, s.line)
		}
		out[i] = stored(pl.vector, c.metric)
	}
	return out, nil
}

// near compares two scores computed from the same float32 data.
func near(a, b float32) bool {
	return math.Abs(float64(a-b)) <= 1e-5*math.Max(1, math.Abs(float64(b)))
}

// sameAnswer compares v2's exact answer with the brute force over v1: the
// same scores in the same order, and the same ids except among records
// tied at the k-th score (either may be returned). "" when equal.
func sameAnswer(got []engine.Hit, want []scored, m distance.Metric) string {
	if len(got) != len(want) {
		return fmt.Sprintf("v2 returned %d results, v1 has %d", len(got), len(want))
	}
	in := map[string]bool{}
	for _, w := range want {
		in[w.id] = true
	}
	for i := range got {
		ws := m.Score(want[i].dist)
		if !near(got[i].Score, ws) {
			return fmt.Sprintf("result %d: v2 %q scores %g, v1 %q scores %g", i, got[i].ID, got[i].Score, want[i].id, ws)
		}
		if !in[got[i].ID] && !near(got[i].Score, m.Score(want[len(want)-1].dist)) {
			return fmt.Sprintf("result %d: v2 returned %q, which is not among v1's nearest", i, got[i].ID)
		}
	}
	return ""
}

// recallAt is the fraction of v1's k nearest that the graph found (a
// record tied with the k-th counts as found).
func recallAt(got []engine.Hit, want []scored, m distance.Metric) float64 {
	if len(want) == 0 {
		return 1
	}
	in := map[string]bool{}
	for _, w := range want {
		in[w.id] = true
	}
	last := m.Score(want[len(want)-1].dist)
	hit := 0
	for _, g := range got {
		if in[g.ID] || near(g.Score, last) {
			hit++
		}
	}
	return float64(min(hit, len(want))) / float64(len(want))
}

// quotaWarnings notes tenants whose migrated data is already over a
// mapped quota: v2 will refuse writes that add to it.
func (m *migration) quotaWarnings() {
	usage := limits.NewEngineUsage(m.db)
	for _, t := range m.plan.Tenants {
		if !t.Migrate || t.Quota.Empty() {
			continue
		}
		u := usage.TenantUsage(m.tenants[t.V2Name])
		for _, f := range []struct {
			name  string
			limit *int64
			have  int64
		}{{"max_collections", t.Quota.MaxCollections, u.Collections}, {"max_vectors", t.Quota.MaxVectors, u.Vectors}, {"max_storage_bytes", t.Quota.MaxStorageBytes, u.StorageBytes}} {
			if f.limit != nil && f.have > *f.limit {
				m.rep.Notes = append(m.rep.Notes, fmt.Sprintf("tenant %s holds %d against its %s of %d: v2 refuses writes that add to it (quota_exceeded) until the quota is raised (akidb quota set) or data is deleted", t.V2Name, f.have, f.name, *f.limit))
			}
		}
	}
}

// How the v1 side of a check was computed (CollectionCheck.V1Pass).
const (
	V1PassWhileLoading = "while-loading"
	V1PassReread       = "reread"
)

// v1Side is the v1 half of a collection's verification: the checksum of
// the records v1 holds and the sample queries' exact answers over them.
type v1Side struct {
	metric  distance.Metric
	queries [][]float32 // as stored: normalised for cosine
	sum     checksum
	answers []truth
}

func newV1Side(metric distance.Metric, queries [][]float32) *v1Side {
	return &v1Side{metric: metric, queries: queries, answers: make([]truth, len(queries))}
}

// v1Part is one group of lines' share of a v1Side, computed by a worker
// and merged in file order.
type v1Part struct {
	sum   checksum
	ids   []string
	dists [][]float32 // [record][query]
}

// measure adds one record (its vector as written in v1) to p.
func (s *v1Side) measure(p *v1Part, id string, vec []float32, meta map[string]any) error {
	vec = stored(vec, s.metric)
	d, err := recordDigest(id, vec, meta)
	if err != nil {
		return err
	}
	p.sum.add(d)
	dist := s.metric.Func()
	ds := make([]float32, len(s.queries))
	for q := range s.queries {
		ds[q] = dist(s.queries[q], vec)
	}
	p.ids = append(p.ids, id)
	p.dists = append(p.dists, ds)
	return nil
}

func (s *v1Side) merge(p v1Part) {
	s.sum.merge(p.sum)
	for j, id := range p.ids {
		for q, d := range p.dists[j] {
			s.answers[q].offer(scored{id: id, dist: d}, VerifyK)
		}
	}
}

// readV1Side computes c's v1 side by reading its live lines again.
func (m *migration) readV1Side(ctx context.Context, c *CollectionPlan, queries [][]float32) (*v1Side, error) {
	side := newV1Side(c.metric, queries)
	sh := c.shape()
	type result struct {
		part v1Part
		err  error
	}
	err := runOrdered(ctx, m.opts.Workers,
		func(emit func(lineGroup) error) error {
			return readLive(c, 0, func(count, _ int, _ span) bool { return count == 256 }, nil, emit)
		},
		func(ch lineGroup) result {
			var r result
			for j, line := range ch.lines {
				s := c.live[ch.from+j]
				pl := parseLine(line, s.n, c.DataFile, s.line, sh, parseOptions{metadata: true})
				if pl.kind != lineUpsert {
					r.err = fmt.Errorf("%s:%d changed since it was planned", c.DataFile, s.line)
					return r
				}
				if r.err = side.measure(&r.part, pl.id, pl.vector, pl.metadata); r.err != nil {
					return r
				}
			}
			return r
		},
		func(r result) error {
			if r.err != nil {
				return r.err
			}
			side.merge(r.part)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return side, nil
}
