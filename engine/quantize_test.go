package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/filter"
	"github.com/akidb/akidb/engine/quant"
	"github.com/akidb/akidb/engine/vecfile"
	"github.com/akidb/akidb/engine/wal"
)

// quantRecords makes n records of clustered vectors with a tag.
func quantRecords(rng *rand.Rand, prefix string, n, dim int) []Record {
	vecs := clustered(rng, n, dim)
	out := make([]Record, n)
	for i, v := range vecs {
		out[i] = Record{ID: prefix + id(i), Vector: v, Metadata: map[string]any{"tag": []string{"red", "green", "blue"}[i%3]}}
	}
	return out
}

func searchRecall(t testing.TB, c interface {
	Search(context.Context, SearchRequest) (SearchResult, error)
}, o *oracle, queries [][]float32, req SearchRequest, match func(Record) bool) float64 {
	t.Helper()
	total := 0.0
	for _, q := range queries {
		req.Vector = q
		res, err := c.Search(bg, req)
		if err != nil {
			t.Fatal(err)
		}
		want := o.topK(q, req.K, match)
		total += recallOf(res.Hits, want)
		// Re-ranked scores are the exact distances. The oracle may hold
		// only some of the collection's records (TestRetrainOnDrift's
		// shifted ones): a hit outside them is a recall miss, not checked.
		if len(res.Hits) > 0 && o.metric == distance.L2 {
			h := res.Hits[0]
			if rec, known := o.recs[h.ID]; known {
				if d := distance.L2SquaredGeneric(q, rec.Vector); math.Abs(float64(d-h.Score)) > 1e-3*(1+float64(d)) {
					t.Fatalf("hit %s scores %v, its exact distance is %v", h.ID, h.Score, d)
				}
			}
		}
	}
	return total / float64(len(queries))
}

// createQuantized creates a collection with quantization q in db.
func createQuantized(t *testing.T, db *DB, name string, dim int, metric distance.Metric, q Quantization) *Handle {
	t.Helper()
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: name, Dimension: dim, Metric: metric, Quantization: q}); err != nil {
		t.Fatal(err)
	}
	h, err := db.Collection(DefaultTenant, name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func oracleOf(t testing.TB, c *Collection, recs []Record, metric distance.Metric) *oracle {
	o := &oracle{metric: metric, recs: map[string]Record{}}
	for _, r := range recs {
		got, err := c.Get(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		o.recs[r.ID] = got
	}
	return o
}

// TestQuantizedCollectionSearch: an int8 collection waits for enough
// vectors, trains and encodes in the background, then answers like the
// float32 one (recall within 0.02, exact scores), with filters, with a
// per-query rerank, in less memory.
func TestQuantizedCollectionSearch(t *testing.T) {
	const dim, n = 32, 3000
	rng := rand.New(rand.NewPCG(5, 5))
	recs := quantRecords(rng, "", n, dim)
	queries := clustered(rng, 60, dim)
	plain := newTestCollection(t, dim, distance.L2)
	mustUpsert(t, plain, recs)
	c, err := NewCollection(CollectionConfig{Name: "q", Dimension: dim, Metric: distance.L2, M: 16, EfConstruction: 100, Seed: 7,
		Quantization: Quantization{Type: QuantInt8}})
	if err != nil {
		t.Fatal(err)
	}
	// Waiting, the step counts the vectors there are now.
	if st := c.QuantizationStatus(); st.State != QuantStateWaiting || st.Step != "training needs 1000 vectors, the collection has 0" {
		t.Fatalf("empty: %+v", st)
	}
	mustUpsert(t, c, recs[:10])
	if st := c.QuantizationStatus(); st.Step != "training needs 1000 vectors, the collection has 10" {
		t.Fatalf("with 10 vectors: %+v", st)
	}
	mustUpsert(t, c, recs[10:quant.MinTrain-1])
	if st := c.WaitQuantization(); st.State != QuantStateWaiting || st.Traversing || st.Step != fmt.Sprintf("training needs 1000 vectors, the collection has %d", quant.MinTrain-1) {
		t.Fatalf("with %d vectors: %+v", quant.MinTrain-1, st)
	}
	mustUpsert(t, c, recs[quant.MinTrain-1:])
	st := c.WaitQuantization()
	if st.State != QuantStateReady || !st.Traversing || st.OriginalsOnDisk || st.RangesInUse == "" || st.TrainedOn < quant.MinTrain {
		t.Fatalf("after %d vectors: %+v", n, st)
	}
	t.Logf("status %+v", st)
	o := oracleOf(t, c, recs, distance.L2)
	req := SearchRequest{K: 10, Ef: 64}
	want := searchRecall(t, plain, o, queries, req, nil)
	got := searchRecall(t, c, o, queries, req, nil)
	t.Logf("recall@10 ef=64: float32 %.4f, int8 %.4f", want, got)
	if got < want-0.02 || got < 0.9 {
		t.Fatalf("int8 recall %.4f, float32 %.4f", got, want)
	}
	// A small rerank loses recall that a larger one wins back.
	lo := searchRecall(t, c, o, queries, SearchRequest{K: 10, Ef: 10, Rerank: 10}, nil)
	hi := searchRecall(t, c, o, queries, SearchRequest{K: 10, Ef: 10, Rerank: 200}, nil)
	if hi < lo || hi < want-0.02 {
		t.Fatalf("rerank 200 recall %.4f, rerank 10 %.4f", hi, lo)
	}
	// Filters: the graph path, and the exact path a selective filter plans
	// (codes scanned, then re-ranked).
	f, err := filter.Parse([]byte(`{"tag":"red"}`))
	if err != nil {
		t.Fatal(err)
	}
	red := func(r Record) bool { return r.Metadata["tag"] == "red" }
	for _, samples := range []int{0, 1} {
		r := searchRecall(t, c, o, queries, SearchRequest{K: 10, Ef: 64, Filter: f, FilterSamples: samples}, red)
		if r < 0.9 {
			t.Fatalf("filtered recall %.4f (samples %d)", r, samples)
		}
	}
	if r := searchRecall(t, c, o, queries[:5], SearchRequest{K: 10, Exact: true}, nil); r != 1 {
		t.Fatalf("exact search recall %.4f", r)
	}
	if _, err := c.Search(bg, SearchRequest{Vector: queries[0], K: 1, Rerank: MaxEf + 1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("rerank over the limit: %v", err)
	}
	if _, err := c.Search(bg, SearchRequest{Vector: queries[0], K: 1, Rerank: -1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative rerank: %v", err)
	}
	if pm, qm := plain.Stats().MemoryBytes, c.Stats().MemoryBytes; qm <= pm {
		t.Logf("memory: float32 %d, int8 with originals in memory %d (codes are extra)", pm, qm)
	}
	if err := c.SetQuantization(Quantization{Type: QuantInt8, Originals: OriginalsDisk}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("originals on disk without a data directory: %v", err)
	}
}

// TestQuantizationSettingsValidation: bad settings are clear errors.
func TestQuantizationSettingsValidation(t *testing.T) {
	for _, q := range []Quantization{
		{Type: "int4"},
		{Type: QuantInt8, Originals: "tape"},
		{Type: QuantInt8, Ranges: "rows"},
		{Type: QuantNone, Originals: OriginalsDisk},
	} {
		_, err := NewCollection(CollectionConfig{Name: "x", Dimension: 4, Metric: distance.L2, Quantization: q})
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%+v: %v", q, err)
		}
	}
}

// selfFindEf is the beam a graph search for a stored vector uses to assert
// that the vector is reachable: wide enough that only a graph that lost
// it misses it.
const selfFindEf = 500

// TestQuantizationLifecycle changes a durable collection's settings while
// writers and searchers run: int8 with originals on disk, a restart that
// does not re-encode, originals back to memory, quantization off; every
// write stays readable with its exact vector, searches never fail, and
// vectors files go once no snapshot needs them.
func TestQuantizationLifecycle(t *testing.T) {
	dir := t.TempDir()
	const dim = 24
	db := openTestDB(t, dir, Config{CheckpointRecords: -1})
	h := createQuantized(t, db, "life", dim, distance.L2, Quantization{Type: QuantInt8, Originals: OriginalsDisk})
	if q := h.Info().Config.Quantization; q.Type != QuantInt8 || q.Originals != OriginalsDisk || q.Ranges != RangesAuto {
		t.Fatalf("info after create: %+v", q)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	all := quantRecords(rng, "a", 2500, dim)
	for s := 0; s < len(all); s += 250 {
		if err := h.Upsert(bg, all[s:s+250]); err != nil {
			t.Fatal(err)
		}
	}
	st := h.WaitQuantization()
	if st.State != QuantStateReady || !st.Traversing || !st.OriginalsOnDisk {
		t.Fatalf("after 2500 vectors: %+v", st)
	}
	if m := h.Stats().MemoryBytes; m > int64(2500*dim*4) {
		t.Logf("memory %d with the originals on disk", m)
	}
	checkAll := func(h *Handle, recs []Record) {
		t.Helper()
		for _, r := range recs {
			got, err := h.Get(r.ID)
			if err != nil || !slices.Equal(got.Vector, r.Vector) {
				t.Fatalf("%s: %v, vector equal %v", r.ID, err, slices.Equal(got.Vector, r.Vector))
			}
		}
	}
	checkAll(h, all)
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	db, h = reopen(t, db, dir, Config{CheckpointRecords: -1}, "life")
	if st := h.Stats().Quantization; !st.Traversing || !st.OriginalsOnDisk {
		t.Fatalf("right after reopening: %+v", st)
	}
	if st := h.WaitQuantization(); st.State != QuantStateReady || h.c.q.trainings != 0 {
		t.Fatalf("the restart re-encoded: %+v, %d trainings", st, h.c.q.trainings)
	}
	checkAll(h, all)

	// Writers and searchers run through the changes of settings.
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		wmu     sync.Mutex
		written []Record
		errs    = make(chan error, 8)
	)
	more := quantRecords(rng, "b", 3000, dim)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for s := 0; s < len(more) && !stop.Load(); s += 50 {
			if err := h.Upsert(bg, more[s:s+50]); err != nil {
				errs <- err
				return
			}
			wmu.Lock()
			written = append(written, more[s:s+50]...)
			wmu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			// Graph searches answer throughout, with real records and
			// their exact distances; the exact search (the originals, in
			// memory or on disk) finds the stored vector itself. That
			// the graph finds it is asserted once the settings are
			// done, below.
			q := all[i%len(all)].Vector
			res, err := h.Search(bg, SearchRequest{Vector: q, K: 5, WithVectors: true})
			if err != nil {
				errs <- err
				return
			}
			if len(res.Hits) == 0 {
				errs <- fmt.Errorf("graph search for %s: no hits", all[i%len(all)].ID)
				return
			}
			for _, hit := range res.Hits {
				if d := distance.L2SquaredGeneric(q, hit.Vector); math.Abs(float64(d-hit.Score)) > 1e-3*(1+float64(d)) {
					errs <- fmt.Errorf("graph search for %s: hit %s scores %v, its exact distance is %v (quantization %+v)", all[i%len(all)].ID, hit.ID, hit.Score, d, h.Stats().Quantization)
					return
				}
			}
			ex, err := h.Search(bg, SearchRequest{Vector: q, K: 1, Exact: true})
			if err != nil {
				errs <- err
				return
			}
			if len(ex.Hits) == 0 || ex.Hits[0].Score > 1e-3 {
				errs <- fmt.Errorf("stored vector %s does not find itself by exact search: %+v, quantization %+v, graph %+v",
					all[i%len(all)].ID, ex.Hits, h.Stats().Quantization, h.c.graph.QuantInfo())
				return
			}
		}
	}()
	for _, q := range []Quantization{
		{Type: QuantInt8, Originals: OriginalsMemory},
		{Type: QuantInt8, Originals: OriginalsDisk, Ranges: RangesDimension},
		{Type: QuantNone},
	} {
		if _, err := db.SetQuantization(bg, DefaultTenant, "life", q); err != nil {
			t.Fatal(err)
		}
		if err := h.Checkpoint(); err != nil { // mid-way, whatever the job has reached
			t.Fatal(err)
		}
		st := h.WaitQuantization()
		wantState := QuantStateReady
		if q.Type == QuantNone {
			wantState = QuantStateOff
		}
		if st.State != wantState || st.Traversing != (q.Type == QuantInt8) || st.OriginalsOnDisk != (q.Originals == OriginalsDisk) {
			t.Fatalf("settings %+v: status %+v", q, st)
		}
		if q.Ranges == RangesDimension && st.RangesInUse != RangesDimension {
			t.Fatalf("ranges dimension asked, %q in use", st.RangesInUse)
		}
		if h.Info().Config.Quantization.Type != q.Type {
			t.Fatalf("info says %+v", h.Info().Config.Quantization)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkAll(h, all)
	checkAll(h, written)
	// The links made through all of it hold the records (below), and
	// recall@10 at the default ef against the exact search stays high.
	h.WaitIndexed()
	everything := append(append([]Record{}, all...), written...)
	recall, queries := 0.0, 0
	var lost []string
	for i, r := range everything {
		self, err := h.Search(bg, SearchRequest{Vector: r.Vector, K: 1, Ef: selfFindEf})
		if err != nil {
			t.Fatal(err)
		}
		if len(self.Hits) == 0 || self.Hits[0].Score > 1e-3 {
			lost = append(lost, r.ID)
		}
		if i%25 == 0 {
			res, err := h.Search(bg, SearchRequest{Vector: r.Vector, K: 10})
			if err != nil {
				t.Fatal(err)
			}
			ex, err := h.Search(bg, SearchRequest{Vector: r.Vector, K: 10, Exact: true})
			if err != nil {
				t.Fatal(err)
			}
			want := make([]string, len(ex.Hits))
			for j, hit := range ex.Hits {
				want[j] = hit.ID
			}
			recall += recallOf(res.Hits, want)
			queries++
		}
	}
	// Every node is reachable, and a search at ef 500 misses at most one
	// in a thousand, the bound a float32 collection written alike without
	// any settings change is held to (maxSelfFindMisses). (Up to the
	// bottom-up insert order, a CI run under -race lost 5 of 3,950, and
	// runs lost whole clusters of the first records: insert.go.)
	if ids, indeg := h.c.graph.Unreached(); len(ids) > 0 {
		t.Errorf("%d nodes unreached from the entry point: %v (named by %v lists)", len(ids), ids[:min(10, len(ids))], indeg[:min(10, len(indeg))])
	}
	if len(lost) > 0 {
		t.Logf("not found at ef %d: %v", selfFindEf, lost)
	}
	if len(lost) > maxSelfFindMisses(len(everything)) {
		t.Fatalf("%d of %d records not found by a graph search for their own vector: %v", len(lost), len(everything), lost[:min(10, len(lost))])
	}
	if r := recall / float64(queries); r < 0.95 {
		t.Fatalf("recall@10 %.4f over %d of the records' own vectors", r, queries)
	}
	// Two checkpoints: no kept snapshot names a vectors file any more.
	for range 2 {
		if err := h.Upsert(bg, more[:1]); err != nil {
			t.Fatal(err)
		}
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	if gens, err := vecfile.List(wal.OSFS{}, h.vectorsDir()); err != nil || len(gens) != 0 {
		t.Fatalf("vectors files left: %v %v", gens, err)
	}
}

// TestRangesChangedDuringATraining: a ranges setting changed while a
// training runs (after it read the setting) is trained next, not lost
// with the request the running training answers.
func TestRangesChangedDuringATraining(t *testing.T) {
	const dim = 16
	rng := rand.New(rand.NewPCG(12, 12))
	c, err := NewCollection(CollectionConfig{Name: "r", Dimension: dim, Metric: distance.L2, M: 16, EfConstruction: 64, Seed: 3,
		Quantization: Quantization{Type: QuantInt8, Ranges: RangesCollection}})
	if err != nil {
		t.Fatal(err)
	}
	mustUpsert(t, c, quantRecords(rng, "", 1500, dim))
	if st := c.WaitQuantization(); st.State != QuantStateReady || st.RangesInUse != RangesCollection {
		t.Fatalf("before: %+v", st)
	}
	var once sync.Once
	c.q.mu.Lock()
	c.q.onTrain = func() {
		once.Do(func() {
			if err := c.SetQuantization(Quantization{Type: QuantInt8, Ranges: RangesCollection}); err != nil {
				t.Error(err)
			}
		})
	}
	c.q.mu.Unlock()
	if err := c.SetQuantization(Quantization{Type: QuantInt8, Ranges: RangesDimension}); err != nil {
		t.Fatal(err)
	}
	st := c.WaitQuantization()
	if st.State != QuantStateReady || st.RangesInUse != RangesCollection || c.Config().Quantization.Ranges != RangesCollection {
		t.Fatalf("ranges collection asked last (during the training for dimension): %+v", st)
	}
	if c.q.trainings != 3 {
		t.Fatalf("%d trainings, want 3 (the first, dimension, collection again)", c.q.trainings)
	}
}

// TestVacuumQuantizedOnDisk: deleting a third of a collection whose
// originals are on disk and compacting writes the survivors' rows to a new
// vectors file; they read back exactly, before and after a restart.
func TestVacuumQuantizedOnDisk(t *testing.T) {
	dir := t.TempDir()
	const dim = 12
	db := openTestDB(t, dir, Config{CheckpointRecords: -1})
	h := createQuantized(t, db, "v", dim, distance.Cosine, Quantization{Type: QuantInt8, Originals: OriginalsDisk})
	recs := quantRecords(rand.New(rand.NewPCG(9, 9)), "", 2000, dim)
	if err := h.Upsert(bg, recs); err != nil {
		t.Fatal(err)
	}
	if st := h.WaitQuantization(); !st.OriginalsOnDisk {
		t.Fatalf("%+v", st)
	}
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	before := h.c.vectorsFile().Gen()
	var gone []string
	for i := 0; i < len(recs); i += 3 {
		gone = append(gone, recs[i].ID)
	}
	if _, err := h.Delete(bg, gone); err != nil {
		t.Fatal(err)
	}
	h.RequestCompaction()
	waitUntil(t, "the compaction", func() bool { return h.Stats().Deleted == 0 })
	if after := h.c.vectorsFile().Gen(); after == before {
		t.Fatal("the vacuum kept the vectors file")
	}
	stored := oracleOf(t, h.c, nil, distance.Cosine)
	check := func(h *Handle) {
		for i, r := range recs {
			got, err := h.Get(r.ID)
			if i%3 == 0 {
				if err == nil {
					t.Fatalf("%s survived its delete", r.ID)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(r.Vector)
			distance.Normalize(want)
			if !slices.Equal(got.Vector, want) {
				t.Fatalf("%s: vector changed in the compaction", r.ID)
			}
			stored.recs[r.ID] = got
		}
	}
	check(h)
	db, h = reopen(t, db, dir, Config{CheckpointRecords: -1}, "v")
	check(h)
	if r := searchRecall(t, h, stored, clustered(rand.New(rand.NewPCG(10, 10)), 30, dim), SearchRequest{K: 10}, nil); r < 0.9 {
		t.Fatalf("recall %.4f after vacuum and restart", r)
	}
}

// TestRetrainOnDrift: data that moves out of the trained ranges is
// clamped (counted), and the write that shows it starts a retraining and
// a re-encoding, without waiting for a checkpoint; the checkpoint then
// has nothing to retrain.
func TestRetrainOnDrift(t *testing.T) {
	dir := t.TempDir()
	const dim = 16
	db := openTestDB(t, dir, Config{CheckpointRecords: -1})
	defer db.Close()
	h := createQuantized(t, db, "d", dim, distance.L2, Quantization{Type: QuantInt8})
	rng := rand.New(rand.NewPCG(11, 11))
	if err := h.Upsert(bg, quantRecords(rng, "a", 20000, dim)); err != nil {
		t.Fatal(err)
	}
	if st := h.WaitQuantization(); st.State != QuantStateReady || st.ClampedFraction > 0.005 {
		t.Fatalf("%+v", st)
	}
	shifted := quantRecords(rng, "b", 3000, dim)
	for _, r := range shifted {
		for j := range r.Vector {
			r.Vector[j] = r.Vector[j]*3 + 10
		}
	}
	if err := h.Upsert(bg, shifted); err != nil {
		t.Fatal(err)
	}
	st := h.WaitQuantization()
	if st.Retrains != 1 || st.ClampedFraction != 0 || st.State != QuantStateReady {
		t.Fatalf("after the shifted data, before any checkpoint: %+v", st)
	}
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if st := h.WaitQuantization(); st.Retrains != 1 || st.State != QuantStateReady {
		t.Fatalf("after the checkpoint: %+v", st)
	}
	o := oracleOf(t, h.c, shifted, distance.L2)
	var queries [][]float32
	for _, r := range shifted[:200] {
		queries = append(queries, r.Vector)
	}
	// Searches still find the shifted records. Not what shows the
	// retraining (the checks above do): with the originals in memory the
	// re-rank measures float32 vectors, and without any retraining recall
	// here is about the same. At ef 128: at the default ef (64) it swings
	// with the graph that concurrent inserts build a little differently
	// at each run, 0.87 to 0.93 over 24 runs, every node reachable, and
	// the 0.9 bound failed about one run in ten; at 128 it was 0.93 to
	// 0.996 over about 100 runs, mostly above 0.98.
	r := searchRecall(t, h, o, queries, SearchRequest{K: 10, Ef: 128}, nil)
	t.Logf("recall %.4f", r)
	if r < 0.9 {
		t.Fatalf("recall %.4f at ef 128 on the shifted data after retraining", r)
	}
}

// TestOldStateVersionStillReads: a version 2 state (payload indexes, no
// quantization section, graph encoding 1) decodes to the same collection.
// (Version 1 lacks the index section too: TestDecodeStateVersion1.)
func TestOldStateVersionStillReads(t *testing.T) {
	c, o, queries := buildOracleCollection(t, 600, 8, distance.L2, true)
	var buf bytes.Buffer
	if err := c.EncodeState(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	le := binary.LittleEndian
	cfgLen := int(le.Uint32(b[4:]))
	sec := 8 + cfgLen + 16
	if le.Uint32(b[sec:]) != 4 {
		t.Fatalf("float collection's quantization section is %d bytes", le.Uint32(b[sec:]))
	}
	v2 := append(append([]byte{}, b[:sec]...), b[sec+8:]...)
	le.PutUint32(v2[0:], 2)
	g := bytes.Index(v2, []byte("AKHG"))
	le.PutUint16(v2[g+4:], 1)
	d, err := DecodeState(bytes.NewReader(v2))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queries[:20] {
		a, _ := c.Search(bg, SearchRequest{Vector: q, K: 5})
		b, _ := d.Search(bg, SearchRequest{Vector: q, K: 5})
		if len(a.Hits) != len(b.Hits) {
			t.Fatal("decoded v2 state answers differently")
		}
		for i := range a.Hits {
			if a.Hits[i].ID != b.Hits[i].ID {
				t.Fatal("decoded v2 state answers differently")
			}
		}
	}
	_ = o
}

// FuzzQuantSection: the quantization section decoder never panics, and
// what it accepts encodes back to the same bytes.
func FuzzQuantSection(f *testing.F) {
	cfg := CollectionConfig{Name: "f", Dimension: 6, Metric: distance.L2}
	rng := rand.New(rand.NewPCG(12, 12))
	sample := make([][]float32, 1000)
	for i := range sample {
		sample[i] = make([]float32, 6)
		for j := range sample[i] {
			sample[i][j] = float32(rng.NormFloat64())
		}
	}
	for _, rg := range []quant.Ranges{quant.RangesCollection, quant.RangesDimension} {
		qz, err := quant.Train(sample, distance.L2, rg, 1000)
		if err != nil {
			f.Fatal(err)
		}
		p := qz.Params()
		for _, disk := range []bool{false, true} {
			qc := quantCapture{params: [2]*quant.Params{nil, &p}, ref: vecfile.Ref{Gen: 3, Rows: 1000, CRC: 77}}
			qc.frozen.Cur, qc.frozen.Encode, qc.frozen.Traverse, qc.frozen.Floats = 1, true, true, !disk
			b, err := qc.appendTo(nil)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b[4:])
		}
	}
	f.Add([]byte{1, 0, 0, 0})
	f.Add([]byte{1, 7, 0, 3})
	f.Fuzz(func(t *testing.T, sec []byte) {
		if len(sec) < 4 {
			return
		}
		qs, err := parseQuantSection(sec, cfg)
		if err != nil {
			if !errors.Is(err, errState) {
				t.Fatalf("error not wrapping errState: %v", err)
			}
			return
		}
		qc := quantCapture{ref: qs.ref}
		qc.frozen.Cur, qc.frozen.Encode, qc.frozen.Traverse, qc.frozen.Floats = qs.cur, qs.encode, qs.traverse, !qs.disk
		for i, qz := range qs.spaces {
			if qz != nil {
				p := qz.Params()
				qc.params[i] = &p
			}
		}
		back, err := qc.appendTo(nil)
		if err != nil || !bytes.Equal(back[4:], sec) {
			t.Fatalf("accepted section does not encode back: %v", err)
		}
	})
}
