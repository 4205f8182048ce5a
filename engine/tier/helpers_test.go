package tier_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/wal"
)

// fakeSource is a collection with an in-memory log and snapshot files in a
// temporary directory: enough for the shipper, which only reads.
type fakeSource struct {
	dir  string
	info tier.CollectionInfo

	mu       sync.Mutex
	first    uint64   // sequence number of recs[0]
	recs     [][]byte // payloads
	snaps    []uint64 // newest first
	ckptReqs int
	// settings are what Settings returns (settingsErr instead, if set).
	settings    tier.Settings
	settingsErr error
}

func newFakeSource(t *testing.T, m *meta.Store, name string) *fakeSource {
	t.Helper()
	ctx := context.Background()
	row, err := m.InsertCollection(ctx, meta.Collection{TenantID: meta.DefaultTenantID, Name: name, Dimension: 4, Metric: "l2", M: 16, EfConstruction: 100, TierPolicy: meta.TierMemoryS3})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.MarkCollectionReady(ctx, row.ID); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), row.ID)
	if err := os.MkdirAll(filepath.Join(dir, "snapshots"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &fakeSource{dir: dir, first: 1, info: tier.CollectionInfo{ID: row.ID, TenantID: meta.DefaultTenantID, TenantName: "default", Name: name,
		Dimension: 4, Metric: "l2", M: 16, EfConstruction: 100, Seed: 7, Policy: meta.TierMemoryS3, CreatedAt: t0}}
}

func (f *fakeSource) Info() tier.CollectionInfo { return f.info }
func (f *fakeSource) Settings() (tier.Settings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings, f.settingsErr
}
func (f *fakeSource) Dir() string { return f.dir }
func (f *fakeSource) LastSeq() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first + uint64(len(f.recs)) - 1
}
func (f *fakeSource) SyncedSeq() (uint64, error) { return f.LastSeq(), nil }
func (f *fakeSource) LogFirstSeq() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first
}
func (f *fakeSource) ReadLog(from, to uint64, fn func(uint64, byte, []byte) error) error {
	f.mu.Lock()
	recs, first := f.recs, f.first
	f.mu.Unlock()
	if from < first {
		return fmt.Errorf("log starts at %d, %d asked", first, from)
	}
	for seq := from; seq <= to; seq++ {
		if err := fn(seq, 1, recs[seq-first]); err != nil {
			return err
		}
	}
	return nil
}
func (f *fakeSource) Snapshots() ([]uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []uint64
	for _, s := range f.snaps {
		if _, err := os.Stat(f.SnapshotPath(s)); err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}
func (f *fakeSource) SnapshotPath(seq uint64) string {
	return filepath.Join(f.dir, "snapshots", fmt.Sprintf("%020d.snap", seq))
}
func (f *fakeSource) RequestCheckpoint() {
	f.mu.Lock()
	f.ckptReqs++
	f.mu.Unlock()
}

// write appends n records and returns the last sequence number.
func (f *fakeSource) write(n int) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		seq := f.first + uint64(len(f.recs))
		f.recs = append(f.recs, []byte(fmt.Sprintf("record %d", seq)))
	}
	return f.first + uint64(len(f.recs)) - 1
}

// checkpoint writes a snapshot file at the last sequence number.
func (f *fakeSource) checkpoint(t *testing.T) uint64 {
	t.Helper()
	seq := f.LastSeq()
	// A real snapshot file (the tier checks its checksums before staging
	// it), with a payload the tests do not interpret.
	w, err := snapshot.Create(wal.OSFS{}, filepath.Dir(f.SnapshotPath(seq)), seq)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte(fmt.Sprintf("snapshot %d;", seq)), 100)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.snaps = append([]uint64{seq}, f.snaps...)
	f.mu.Unlock()
	return seq
}

// truncateLog drops the records before seq, as a local checkpoint does.
func (f *fakeSource) truncateLog(seq uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = f.recs[seq-f.first:]
	f.first = seq
}

type fixture struct {
	t     *testing.T
	meta  *meta.Store
	mem   *tier.MemStore
	store *tier.FaultStore
	clock *tier.ManualClock
	tier  *tier.Tier
	obs   *countingObserver
}

type countingObserver struct {
	mu      sync.Mutex
	uploads map[string]int
	retries map[string]int
}

func (o *countingObserver) Upload(kind, result string, _ time.Duration, _ int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.uploads[kind+"/"+result]++
}
func (o *countingObserver) DLQRetry(result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retries[result]++
}

func openMeta(t *testing.T) *meta.Store {
	t.Helper()
	m, err := meta.Open(context.Background(), filepath.Join(t.TempDir(), meta.FileName), nil, meta.WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func newFixture(t *testing.T, tune func(*tier.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, meta: openMeta(t), mem: tier.NewMemStore(), clock: tier.NewManualClock(t0),
		obs: &countingObserver{uploads: map[string]int{}, retries: map[string]int{}}}
	f.store = tier.NewFaultStore(f.mem)
	f.tier = f.newTier(tune)
	return f
}

func (f *fixture) newTier(tune func(*tier.Config)) *tier.Tier {
	cfg := tier.Config{Store: f.store, Prefix: "edge/box1", Meta: f.meta, Clock: f.clock, Observer: f.obs, ChunkBytes: 1 << 10,
		Jitter: func() float64 { return 0.5 }}
	if tune != nil {
		tune(&cfg)
	}
	tr, err := tier.New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(tr.Close)
	return tr
}

func (f *fixture) register(src *fakeSource) {
	f.t.Helper()
	if err := f.tier.Register(src); err != nil {
		f.t.Fatal(err)
	}
}

// manifest reads and checks the collection's manifest from the store.
func (f *fixture) manifest(src *fakeSource) *tier.Manifest {
	f.t.Helper()
	prefix := tier.CollectionPrefix("edge/box1", "default", src.info.Name, src.info.ID)
	rc, info, err := f.mem.Get(context.Background(), prefix+tier.ManifestName)
	if err != nil {
		f.t.Fatalf("manifest: %v", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	m, err := tier.DecodeManifest(b)
	if err != nil {
		f.t.Fatal(err)
	}
	if got := sha(b); got != info.SHA256 {
		f.t.Fatalf("manifest sha %s, metadata says %s", got, info.SHA256)
	}
	// Every object it lists is there with its size and checksum.
	for _, list := range [][]tier.Object{m.Snapshots, m.Segments, m.Parquet} {
		for _, o := range list {
			rc, info, err := f.mem.Get(context.Background(), prefix+o.Key)
			if err != nil {
				f.t.Fatalf("listed object %s: %v", o.Key, err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if int64(len(b)) != o.Size || sha(b) != o.SHA256 || info.SHA256 != o.SHA256 {
				f.t.Fatalf("object %s: %d bytes sha %s (metadata %s), manifest says %d %s", o.Key, len(b), sha(b), info.SHA256, o.Size, o.SHA256)
			}
		}
	}
	return m
}

// records decodes every log record a manifest's plan restores.
func (f *fixture) restoredSeqs(src *fakeSource, m *tier.Manifest, toSeq uint64) (snap uint64, seqs []uint64) {
	f.t.Helper()
	plan, err := m.Plan(toSeq)
	if err != nil {
		f.t.Fatal(err)
	}
	prefix := tier.CollectionPrefix("edge/box1", "default", src.info.Name, src.info.ID)
	if plan.Snapshot != nil {
		snap = plan.Snapshot.LastSeq
	}
	for _, s := range plan.Segments {
		rc, _, err := f.mem.Get(context.Background(), prefix+s.Key)
		if err != nil {
			f.t.Fatal(err)
		}
		_, _, err = wal.ReadChunk(rc, func(seq uint64, _ byte, p []byte) error {
			if string(p) != fmt.Sprintf("record %d", seq) {
				return fmt.Errorf("record %d holds %q", seq, p)
			}
			if seq > snap && seq <= plan.ToSeq {
				seqs = append(seqs, seq)
			}
			return nil
		})
		rc.Close()
		if err != nil {
			f.t.Fatal(err)
		}
	}
	return snap, seqs
}

func (f *fixture) dlq(status string) []meta.DLQEntry {
	f.t.Helper()
	e, err := f.meta.ListDLQ(context.Background(), meta.DLQFilter{Status: status}, 0, meta.MaxDLQPage)
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

func (f *fixture) objectKeys(prefix string) []string {
	f.t.Helper()
	objs, err := f.mem.List(context.Background(), prefix)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key[len(prefix):])
	}
	return out
}

func sha(b []byte) string {
	_, s := shaOf(b)
	return s
}
