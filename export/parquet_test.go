package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

// fileRow is how a reader that knows only the documented column names
// reads an export back.
type fileRow struct {
	ID       string    `parquet:"id"`
	Vector   []float32 `parquet:"vector,list"`
	Metadata string    `parquet:"metadata"`
}

type readBack struct {
	rows []fileRow
	kv   map[string]string
	file *parquet.File
}

// readExport reads data with parquet-go's generic reader.
func readExport(t *testing.T, data []byte) readBack {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open the export: %v", err)
	}
	rb := readBack{kv: map[string]string{}, file: f}
	for _, kv := range f.Metadata().KeyValueMetadata {
		rb.kv[kv.Key] = kv.Value
	}
	r := parquet.NewGenericReader[fileRow](bytes.NewReader(data))
	defer r.Close()
	buf := make([]fileRow, 100)
	for {
		n, err := r.Read(buf)
		rb.rows = append(rb.rows, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read rows: %v", err)
		}
	}
	if int64(len(rb.rows)) != f.NumRows() {
		t.Fatalf("read %d rows, the footer says %d", len(rb.rows), f.NumRows())
	}
	return rb
}

func export(t *testing.T, src Source, opts Options) ([]byte, Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := WriteParquet(context.Background(), &buf, src, opts)
	if err != nil {
		t.Fatalf("WriteParquet: %v", err)
	}
	return buf.Bytes(), sum
}

// liveRecords is every live record of c in insertion order, with vectors.
func liveRecords(t *testing.T, c *engine.Collection) []engine.Record {
	t.Helper()
	var out []engine.Record
	cursor := ""
	for {
		page, err := c.Scroll(cursor, 1000, true)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Records...)
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// sameRecords checks that the file holds exactly want, in order: every id,
// every vector bit for bit, metadata equal as JSON.
func sameRecords(t *testing.T, got []fileRow, want []engine.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("the file has %d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID {
			t.Fatalf("row %d: id %q, want %q", i, g.ID, w.ID)
		}
		if len(g.Vector) != len(w.Vector) {
			t.Fatalf("%s: %d values, want %d", w.ID, len(g.Vector), len(w.Vector))
		}
		for j := range w.Vector {
			if math.Float32bits(g.Vector[j]) != math.Float32bits(w.Vector[j]) {
				t.Fatalf("%s: vector[%d] = %v (%#x), want %v (%#x)", w.ID, j, g.Vector[j], math.Float32bits(g.Vector[j]), w.Vector[j], math.Float32bits(w.Vector[j]))
			}
		}
		var meta map[string]any
		if err := json.Unmarshal([]byte(g.Metadata), &meta); err != nil {
			t.Fatalf("%s: metadata %q is not a JSON object: %v", w.ID, g.Metadata, err)
		}
		if len(meta) == 0 && len(w.Metadata) == 0 {
			if g.Metadata != "{}" {
				t.Fatalf("%s: no metadata written as %q, want {}", w.ID, g.Metadata)
			}
			continue
		}
		if !reflect.DeepEqual(meta, w.Metadata) {
			t.Fatalf("%s: metadata %s, want %v", w.ID, g.Metadata, w.Metadata)
		}
	}
}

func newCollection(t *testing.T, name string, dim int, metric distance.Metric) *engine.Collection {
	t.Helper()
	// A sparse graph builds fast (under the race detector too); exports
	// do not depend on its quality.
	c, err := engine.NewCollection(engine.CollectionConfig{Name: name, Dimension: dim, Metric: metric, M: 4, EfConstruction: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// vec is a deterministic vector for record n, version ver.
func vec(dim, n, ver int) []float32 {
	v := make([]float32, dim)
	for j := range v {
		v[j] = float32(math.Sin(float64(n*131+j*7+ver*1009))) * 3
	}
	return v
}

func upsertRange(t *testing.T, c *engine.Collection, from, to, ver int, meta func(n int) map[string]any) {
	t.Helper()
	dim := c.Config().Dimension
	var recs []engine.Record
	for n := from; n < to; n++ {
		recs = append(recs, engine.Record{ID: fmt.Sprintf("rec-%05d", n), Vector: vec(dim, n, ver), Metadata: meta(n)})
		if len(recs) == 500 || n == to-1 {
			if err := c.Upsert(recs); err != nil {
				t.Fatal(err)
			}
			recs = recs[:0]
		}
	}
}

func richMeta(n int) map[string]any {
	switch n % 5 {
	case 0:
		return nil // no metadata: written as {}
	case 1:
		return map[string]any{"title": fmt.Sprintf("doc %d", n), "n": n, "score": -0.5 * float64(n)}
	case 2:
		return map[string]any{"nested": map[string]any{"a": []any{1, "two", true, nil}}, "html": "<b>&</b>", "unicode": "日本語 ✓"}
	case 3:
		return map[string]any{"big": 1e300, "small": 5e-324, "empty": "", "null": nil}
	}
	return map[string]any{"tags": []any{"x", "y"}, "flag": false}
}

func ids(from, to int) []string {
	var out []string
	for n := from; n < to; n++ {
		out = append(out, fmt.Sprintf("rec-%05d", n))
	}
	return out
}

// Upserts, replacements and deletes: the file holds the collection's
// current records and nothing else, and its key-value metadata describes it.
func TestWriteParquetRoundTrip(t *testing.T) {
	c := newCollection(t, "rt", 12, distance.L2)
	upsertRange(t, c, 0, 300, 0, richMeta)
	upsertRange(t, c, 100, 120, 1, func(n int) map[string]any { return map[string]any{"replaced": true, "n": n} })
	if _, err := c.Delete(ids(200, 230)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete([]string{"rec-00110"}); err != nil { // a replaced record, deleted
		t.Fatal(err)
	}
	upsertRange(t, c, 300, 310, 0, richMeta)

	data, sum := export(t, c.View(), Options{Version: "1.2.3", Build: "abc"})
	rb := readExport(t, data)
	want := liveRecords(t, c)
	if len(want) != 300-30-1+10 {
		t.Fatalf("test setup: %d live records", len(want))
	}
	sameRecords(t, rb.rows, want)
	seq := c.Stats().AppliedSeq
	wantKV := map[string]string{
		KeyFormatVersion: "1", KeySeq: strconv.FormatUint(seq, 10), KeyTenant: "", KeyCollection: "rt",
		KeyDimension: "12", KeyMetric: "l2", KeyNormalized: "false", KeyRecords: strconv.Itoa(len(want)),
	}
	for k, v := range wantKV {
		if rb.kv[k] != v {
			t.Errorf("key-value metadata %s = %q, want %q", k, rb.kv[k], v)
		}
	}
	if cb := rb.file.Metadata().CreatedBy; cb != "akidb version 1.2.3 (build abc)" {
		t.Errorf("created_by %q", cb)
	}
	h := sha256.Sum256(data)
	if sum.Rows != int64(len(want)) || sum.RowGroups != 1 || sum.Bytes != int64(len(data)) || sum.SHA256 != hex.EncodeToString(h[:]) || sum.Seq != seq {
		t.Fatalf("summary %+v; file has %d bytes, sha256 %x, seq %d", sum, len(data), h, seq)
	}
	// The schema is the documented one.
	schema := rb.file.Schema().String()
	for _, want := range []string{"required binary id (STRING)", "required group vector (LIST)", "required float element", "required binary metadata (JSON)"} {
		if !bytes.Contains([]byte(schema), []byte(want)) {
			t.Errorf("schema lacks %q:\n%s", want, schema)
		}
	}
}

func TestWriteParquetEmptyCollection(t *testing.T) {
	fresh := newCollection(t, "empty", 4, distance.InnerProduct)
	emptied := newCollection(t, "emptied", 4, distance.InnerProduct)
	upsertRange(t, emptied, 0, 10, 0, richMeta)
	if _, err := emptied.Delete(ids(0, 10)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*engine.Collection{fresh, emptied} {
		data, sum := export(t, c.View(), Options{})
		rb := readExport(t, data)
		if len(rb.rows) != 0 || sum.Rows != 0 || sum.RowGroups != 0 {
			t.Fatalf("%s: %d rows read, summary %+v", c.Config().Name, len(rb.rows), sum)
		}
		if rb.kv[KeyRecords] != "0" || rb.kv[KeySeq] != strconv.FormatUint(c.Stats().AppliedSeq, 10) || rb.kv[KeyMetric] != "dot" {
			t.Fatalf("%s: key-value metadata %v", c.Config().Name, rb.kv)
		}
	}
}

// A cosine collection stores unit vectors; the export says so and holds
// exactly the stored vectors.
func TestWriteParquetCosineVectorsAreNormalised(t *testing.T) {
	c := newCollection(t, "cos", 8, distance.Cosine)
	upsertRange(t, c, 0, 50, 0, richMeta)
	data, _ := export(t, c.View(), Options{})
	rb := readExport(t, data)
	sameRecords(t, rb.rows, liveRecords(t, c))
	if rb.kv[KeyNormalized] != "true" || rb.kv[KeyMetric] != "cosine" {
		t.Fatalf("key-value metadata %v", rb.kv)
	}
	for n, r := range rb.rows {
		in := vec(8, n, 0)
		var norm, inNorm float64
		for j, x := range r.Vector {
			norm += float64(x) * float64(x)
			inNorm += float64(in[j]) * float64(in[j])
		}
		if math.Abs(norm-1) > 1e-6 {
			t.Fatalf("%s: norm² %v, want 1", r.ID, norm)
		}
		for j, x := range r.Vector {
			if want := float64(in[j]) / math.Sqrt(inNorm); math.Abs(float64(x)-want) > 1e-6 {
				t.Fatalf("%s[%d] = %v, want the input normalised, %v", r.ID, j, x, want)
			}
		}
	}
}

// A collection larger than a row group is written as several, each
// within the bound (plus at most one record), and reads back whole.
func TestWriteParquetSeveralRowGroups(t *testing.T) {
	const dim, records = 24, 8000
	c := newCollection(t, "big", dim, distance.L2)
	upsertRange(t, c, 0, records, 0, richMeta)
	const groupBytes = 64 << 10
	data, sum := export(t, c.View(), Options{RowGroupBytes: groupBytes})
	rb := readExport(t, data)
	want := liveRecords(t, c)
	sameRecords(t, rb.rows, want)
	groups := rb.file.RowGroups()
	if len(groups) != sum.RowGroups || len(groups) < 8 {
		t.Fatalf("%d row groups in the file, summary says %d; want several", len(groups), sum.RowGroups)
	}
	row := 0
	maxRow := 0
	rowBytes := make([]int, len(rb.rows))
	for i, r := range rb.rows {
		rowBytes[i] = len(r.ID) + 4*len(r.Vector) + len(r.Metadata)
		maxRow = max(maxRow, rowBytes[i])
	}
	for i, g := range groups {
		raw := 0
		for range g.NumRows() {
			raw += rowBytes[row]
			row++
		}
		if raw >= groupBytes+maxRow {
			t.Errorf("row group %d holds %d raw bytes in %d rows, over the %d bound", i, raw, g.NumRows(), groupBytes)
		}
		if i < len(groups)-1 && raw < groupBytes {
			t.Errorf("row group %d holds %d raw bytes, flushed before the %d bound", i, raw, groupBytes)
		}
	}
}

// A view is the collection at one sequence number: writes after it do not
// reach the file, and the key-value metadata names that sequence number.
func TestWriteParquetViewIsAtItsSeq(t *testing.T) {
	c := newCollection(t, "seq", 6, distance.L2)
	upsertRange(t, c, 0, 200, 0, richMeta)
	if _, err := c.Delete(ids(0, 10)); err != nil {
		t.Fatal(err)
	}
	before := liveRecords(t, c)
	seq := c.Stats().AppliedSeq
	v := c.View()
	// After the view: new records, replacements, deletes.
	upsertRange(t, c, 200, 260, 0, richMeta)
	upsertRange(t, c, 50, 80, 1, func(int) map[string]any { return map[string]any{"after": true} })
	if _, err := c.Delete(ids(100, 150)); err != nil {
		t.Fatal(err)
	}
	data, sum := export(t, v, Options{})
	rb := readExport(t, data)
	sameRecords(t, rb.rows, before)
	if sum.Seq != seq || rb.kv[KeySeq] != strconv.FormatUint(seq, 10) || v.Info().Seq != seq {
		t.Fatalf("seq: summary %d, file %s, view %d; want %d", sum.Seq, rb.kv[KeySeq], v.Info().Seq, seq)
	}
}

func TestWriteParquetViewExpiredByVacuum(t *testing.T) {
	c := newCollection(t, "vac", 4, distance.L2)
	upsertRange(t, c, 0, 100, 0, richMeta)
	v := c.View()
	if _, err := c.Delete(ids(0, 50)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Vacuum(); err != nil {
		t.Fatal(err)
	}
	_, err := WriteParquet(context.Background(), io.Discard, v, Options{})
	if !errors.Is(err, engine.ErrViewExpired) {
		t.Fatalf("export of a view older than a vacuum: %v, want ErrViewExpired", err)
	}
}

// fakeSource yields what it is told, for the bad cases.
type fakeSource struct {
	info engine.ViewInfo
	recs []engine.Record
	err  error // yielded after recs
}

func (f fakeSource) Info() engine.ViewInfo { return f.info }

func (f fakeSource) Each(fn func(engine.Record) error) error {
	for _, r := range f.recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return f.err
}

func TestWriteParquetRefusesBadSources(t *testing.T) {
	info := engine.ViewInfo{Name: "bad", Dimension: 3, Metric: distance.L2, Seq: 7, Count: 2}
	good := engine.Record{ID: "a", Vector: []float32{1, 2, 3}}
	boom := errors.New("disk on fire")
	cases := []struct {
		name string
		src  fakeSource
		want error
	}{
		{"short vector", fakeSource{info: info, recs: []engine.Record{good, {ID: "b", Vector: []float32{1, 2}}}}, ErrSourceMismatch},
		{"long vector", fakeSource{info: info, recs: []engine.Record{{ID: "b", Vector: []float32{1, 2, 3, 4}}, good}}, ErrSourceMismatch},
		{"fewer records than said", fakeSource{info: info, recs: []engine.Record{good}}, ErrSourceMismatch},
		{"more records than said", fakeSource{info: info, recs: []engine.Record{good, good, good}}, ErrSourceMismatch},
		{"no dimension", fakeSource{info: engine.ViewInfo{Name: "bad"}}, ErrSourceMismatch},
		{"huge dimension", fakeSource{info: engine.ViewInfo{Name: "bad", Dimension: 1 << 40}}, ErrSourceMismatch},
		{"read error", fakeSource{info: info, recs: []engine.Record{good}, err: boom}, boom},
		{"metadata not JSON", fakeSource{info: info, recs: []engine.Record{good, {ID: "b", Vector: []float32{1, 2, 3}, Metadata: map[string]any{"f": func() {}}}}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WriteParquet(context.Background(), io.Discard, tc.src, Options{})
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, want an error wrapping %v", err, tc.want)
			}
		})
	}
}

// failingWriter fails once more than limit bytes were written.
type failingWriter struct {
	limit, n int
}

var errFull = errors.New("device full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		return 0, errFull
	}
	w.n += len(p)
	return len(p), nil
}

func TestWriteParquetWriteErrors(t *testing.T) {
	c := newCollection(t, "werr", 16, distance.L2)
	upsertRange(t, c, 0, 3000, 0, richMeta)
	for _, limit := range []int{0, 3, 1000, 100 << 10} {
		_, err := WriteParquet(context.Background(), &failingWriter{limit: limit}, c.View(), Options{RowGroupBytes: 64 << 10})
		if !errors.Is(err, errFull) {
			t.Fatalf("writer failing after %d bytes: %v, want errFull", limit, err)
		}
	}
}

func TestWriteParquetCancelled(t *testing.T) {
	c := newCollection(t, "ctx", 4, distance.L2)
	upsertRange(t, c, 0, 1000, 0, richMeta)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := WriteParquet(ctx, io.Discard, c.View(), Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled export: %v", err)
	}
}

// The same records give the same bytes, so a file can be compared by its
// checksum.
func TestWriteParquetIsDeterministic(t *testing.T) {
	c := newCollection(t, "det", 8, distance.L2)
	upsertRange(t, c, 0, 500, 0, richMeta)
	a, _ := export(t, c.View(), Options{Version: "x", RowGroupBytes: 8 << 10})
	b, _ := export(t, c.View(), Options{Version: "x", RowGroupBytes: 8 << 10})
	if !bytes.Equal(a, b) {
		t.Fatal("two exports of the same view differ")
	}
}

// A durable collection's view carries its tenant and name into the file.
func TestWriteParquetDurableCollection(t *testing.T) {
	db, err := engine.Open(t.TempDir(), engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	tenant, err := db.Meta().CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCollection(ctx, tenant.ID, engine.CollectionConfig{Name: "docs", Dimension: 3, Metric: distance.Cosine}); err != nil {
		t.Fatal(err)
	}
	h, err := db.Collection(tenant.ID, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Upsert(ctx, []engine.Record{{ID: "a", Vector: []float32{3, 4, 0}, Metadata: map[string]any{"k": "v"}}}); err != nil {
		t.Fatal(err)
	}
	v, err := h.View()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := export(t, v, Options{})
	rb := readExport(t, data)
	sameRecords(t, rb.rows, liveRecords(t, h.Collection()))
	if rb.kv[KeyTenant] != tenant.ID || rb.kv[KeyCollection] != "docs" || rb.kv[KeySeq] != "1" {
		t.Fatalf("key-value metadata %v", rb.kv)
	}
	if got := rb.rows[0].Vector; got[0] != 0.6 || got[1] != 0.8 {
		t.Fatalf("stored cosine vector %v, want [0.6 0.8 0]", got)
	}
}
