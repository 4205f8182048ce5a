package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/dirlock"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/filter"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/wal"
)

// tieredConfig is a DB configuration shipping to store, with the tier's
// loops stopped: the test drives ShipOnce and the DLQ.
func tieredConfig(store tier.ObjectStore, clock tier.Clock) Config {
	return Config{CheckpointRecords: -1, CheckpointBytes: -1, SegmentSize: 4 << 10,
		Tier: &TierConfig{NoBackground: true, ShutdownShipTimeout: -1,
			Tier: tier.Config{Store: store, Prefix: "box", Clock: clock, ChunkBytes: 8 << 10, Jitter: func() float64 { return 0 }}}}
}

func createTiered(t *testing.T, db *DB, name string) *Handle {
	t.Helper()
	return createWithPolicy(t, db, name, TierMemoryS3)
}

func upsertRange(t *testing.T, h *Handle, prefix string, from, to int) {
	t.Helper()
	for i := from; i < to; i += 10 {
		if err := h.Upsert(bg, recs(prefix, i, min(i+10, to), 8)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTierPolicyValidation(t *testing.T) {
	db := openTestDB(t, t.TempDir(), Config{})
	defer db.Close()
	for _, p := range []string{TierMemoryS3, TierS3Only, "tape"} {
		_, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "x", Dimension: 4, Metric: distance.L2, TierPolicy: p})
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("create with %q and no object store: %v", p, err)
		}
	}
	if _, err := Open(t.TempDir(), Config{DefaultTierPolicy: TierMemoryS3}); err == nil {
		t.Error("a memory-s3 default without an object store was accepted")
	}
	info, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "x", Dimension: 4, Metric: distance.L2})
	if err != nil || info.TierPolicy != TierMemory {
		t.Fatalf("default policy: %+v %v", info, err)
	}
	if _, err := db.SetTierPolicy(bg, DefaultTenant, "x", TierMemoryS3); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("switch to memory-s3 without a store: %v", err)
	}

	tdb := openTestDB(t, t.TempDir(), tieredConfig(tier.NewMemStore(), nil))
	defer tdb.Close()
	if _, err := tdb.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "y", Dimension: 4, Metric: distance.L2, TierPolicy: "tape"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("an unknown policy with a store: %v", err)
	}
	if info, err := tdb.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "s", Dimension: 4, Metric: distance.L2, TierPolicy: TierS3Only}); err != nil || !tdb.Tier().Registered(info.ID) {
		t.Errorf("s3-only with a store: %+v %v", info, err)
	}
	info, err = tdb.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "y", Dimension: 4, Metric: distance.L2})
	if err != nil || tdb.Tier().Registered(info.ID) {
		t.Fatalf("a memory collection is shipped: %v", err)
	}
	if info, err = tdb.SetTierPolicy(bg, DefaultTenant, "y", TierMemoryS3); err != nil || info.TierPolicy != TierMemoryS3 || !tdb.Tier().Registered(info.ID) {
		t.Fatalf("switch to memory-s3: %+v %v", info, err)
	}
	if row, _ := tdb.Meta().GetCollectionByID(bg, info.ID); row.TierPolicy != TierMemoryS3 {
		t.Fatalf("catalog says %q", row.TierPolicy)
	}
	if info, err = tdb.SetTierPolicy(bg, DefaultTenant, "y", TierMemory); err != nil || tdb.Tier().Registered(info.ID) {
		t.Fatalf("switch back to memory: %v", err)
	}
	if _, err := tdb.SetTierPolicy(bg, DefaultTenant, "nope", TierMemory); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown collection: %v", err)
	}
}

func TestMemoryS3KeepsSnapshotsAndLogUntilTheirUploadIsConfirmed(t *testing.T) {
	clock := tier.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fs := tier.NewFaultStore(tier.NewMemStore())
	dir := t.TempDir()
	db := openTestDB(t, dir, tieredConfig(fs, clock))
	defer db.Close()
	h := createTiered(t, db, "docs")
	upsertRange(t, h, "a", 0, 200)
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	st, _ := db.Tier().CollectionStatus(h.info.ID)
	if st.ShippedSeq != h.c.appliedSeq() || st.NewestSnapshot == nil {
		t.Fatalf("after the first ship: %+v", st)
	}
	// The store goes away; checkpoints go on.
	fs.FailAlways(tier.OpAny, errors.New("network unreachable"))
	firstUnshipped := h.c.appliedSeq() + 1
	for round := range 4 {
		upsertRange(t, h, fmt.Sprintf("b%d", round), 0, 200)
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		_ = db.Tier().ShipOnce(bg)
	}
	if got := h.wal.FirstSeq(); got > firstUnshipped {
		t.Fatalf("the log was truncated to %d although %d.. is not shipped", got, firstUnshipped)
	}
	seqs, _ := snapshot.List(db.cfg.FS, h.snapshotDir())
	held := 0
	for _, s := range seqs {
		if db.Tier().HoldsSnapshot(h.info.ID, s) {
			held++
		}
	}
	if held != 1 || !db.Tier().HoldsSnapshot(h.info.ID, seqs[0]) {
		t.Fatalf("snapshots %v, %d held; want the newest (the one queued) held", seqs, held)
	}
	// Writes go on being acknowledged meanwhile.
	upsertRange(t, h, "c", 0, 50)
	fs.Heal()
	clock.Advance(time.Hour)
	if res, err := db.Tier().DLQ().RunOnce(bg); err != nil || res.Failed != 0 {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	st, _ = db.Tier().CollectionStatus(h.info.ID)
	if st.ShippedSeq != h.c.appliedSeq() || st.PendingUploads != 0 {
		t.Fatalf("after recovery: %+v (applied %d)", st, h.c.appliedSeq())
	}
	// Now the next checkpoint may prune: the log starts at the older kept
	// snapshot again.
	upsertRange(t, h, "d", 0, 20)
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	seqs, _ = snapshot.List(db.cfg.FS, h.snapshotDir())
	if len(seqs) != keepSnapshots || h.wal.FirstSeq() > seqs[1]+1 {
		t.Fatalf("after a checkpoint with everything shipped: snapshots %v, log from %d", seqs, h.wal.FirstSeq())
	}
}

// checkContents checks that h holds exactly the records of want (by id,
// vector and metadata).
func checkContents(t *testing.T, h *Handle, want map[string]Record) {
	t.Helper()
	if h.Count() != len(want) {
		t.Fatalf("%d records, want %d", h.Count(), len(want))
	}
	for id, w := range want {
		got, err := h.Get(id)
		if err != nil {
			t.Fatalf("record %s: %v", id, err)
		}
		wv := slices.Clone(w.Vector)
		distance.Normalize(wv)
		for i := range wv {
			if d := got.Vector[i] - wv[i]; d > 1e-6 || d < -1e-6 {
				t.Fatalf("record %s: vector differs", id)
			}
		}
		if fmt.Sprint(got.Metadata) != fmt.Sprint(w.Metadata) {
			t.Fatalf("record %s: metadata %v, want %v", id, got.Metadata, w.Metadata)
		}
	}
}

func TestRestoreOnAFreshDirectoryAfterTheOriginalIsDeleted(t *testing.T) {
	store := tier.NewMemStore()
	dir := filepath.Join(t.TempDir(), "original")
	db := openTestDB(t, dir, tieredConfig(store, nil))
	h := createTiered(t, db, "docs")
	want := map[string]Record{}
	add := func(prefix string, from, to int) {
		upsertRange(t, h, prefix, from, to)
		for _, r := range recs(prefix, from, to, 8) {
			want[r.ID] = r
		}
	}
	add("a", 0, 300)
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	add("b", 0, 200)
	if _, err := h.Delete(bg, []string{"a-1", "a-2", "b-7"}); err != nil {
		t.Fatal(err)
	}
	delete(want, "a-1")
	delete(want, "a-2")
	delete(want, "b-7")
	midSeq := h.c.appliedSeq()
	midWant := map[string]Record{}
	for k, v := range want {
		midWant[k] = v
	}
	add("c", 0, 100)
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	res, err := Restore(bg, fresh, Config{}, RestoreOptions{Store: store, Prefix: "box", Name: "docs"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != len(want) || res.SnapshotSeq == 0 || res.Replayed == 0 || res.ID == res.SourceID {
		t.Fatalf("restore: %+v", res)
	}
	rdb := openTestDB(t, fresh, Config{})
	rh, err := rdb.Collection(DefaultTenant, "docs")
	if err != nil {
		t.Fatal(err)
	}
	checkContents(t, rh, want)
	if rh.TierPolicy() != TierMemoryS3 {
		t.Fatalf("policy %q after restore", rh.TierPolicy())
	}
	// A restore never replaces a collection.
	var held *dirlock.HeldError
	if _, err := Restore(bg, fresh, Config{}, RestoreOptions{Store: store, Prefix: "box", Name: "docs"}); !errors.As(err, &held) {
		t.Fatalf("restore into a directory a server has open: %v", err)
	}
	rdb.Close()
	if _, err := Restore(bg, fresh, Config{}, RestoreOptions{Store: store, Prefix: "box", Name: "docs"}); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("restore over an existing collection: %v", err)
	}

	// To a sequence number in the middle.
	mid := filepath.Join(t.TempDir(), "mid")
	if _, err := Restore(bg, mid, Config{}, RestoreOptions{Store: store, Prefix: "box", Name: "docs", ToSeq: midSeq}); err != nil {
		t.Fatal(err)
	}
	mdb := openTestDB(t, mid, Config{})
	mh, _ := mdb.Collection(DefaultTenant, "docs")
	checkContents(t, mh, midWant)
	mdb.Close()

	// Errors name what is wrong.
	for _, c := range []struct {
		opts RestoreOptions
		want string
	}{
		{RestoreOptions{Store: store, Prefix: "box", Name: "nope"}, "no shipped collection"},
		{RestoreOptions{Store: store, Prefix: "box", Name: "docs", Tenant: "acme"}, "does not exist"},
		{RestoreOptions{Store: store, Prefix: "box", Name: "docs", ToSeq: 1 << 40}, "not restorable"},
		{RestoreOptions{Store: store, Prefix: "box", Name: "docs", SourceID: "00000000-0000-4000-8000-000000000000"}, "no shipped collection"},
	} {
		_, err := Restore(bg, filepath.Join(t.TempDir(), "x"), Config{}, c.opts)
		if err == nil || !containsFold(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opts, err, c.want)
		}
	}
}

func TestRestoreRefusesATamperedObjectAndLeavesNothing(t *testing.T) {
	store := tier.NewMemStore()
	db := openTestDB(t, t.TempDir(), tieredConfig(store, nil))
	h := createTiered(t, db, "docs")
	upsertRange(t, h, "a", 0, 100)
	_ = h.Checkpoint()
	upsertRange(t, h, "b", 0, 50)
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	db.Close()
	objs, _ := store.List(bg, "box/")
	var victim tier.ObjectInfo
	for _, o := range objs {
		if filepath.Ext(o.Key) == ".wal" {
			victim = o
		}
	}
	rc, info, _ := store.Get(bg, victim.Key)
	b := make([]byte, victim.Size)
	_, _ = rc.Read(b)
	rc.Close()
	b[len(b)-1] ^= 1
	if err := store.Put(bg, victim.Key, bytesReader(b), int64(len(b)), tier.PutOptions{SHA256: info.SHA256}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Restore(bg, dir, Config{}, RestoreOptions{Store: store, Prefix: "box", Name: "docs"}); !errors.Is(err, tier.ErrChecksumMismatch) {
		t.Fatalf("restore of a tampered log object: %v", err)
	}
	rdb := openTestDB(t, dir, Config{})
	defer rdb.Close()
	if len(rdb.ListCollections("")) != 0 {
		t.Fatal("a failed restore left a collection")
	}
	if rows, _ := rdb.Meta().ListCollections(bg, ""); len(rows) != 0 {
		t.Fatalf("a failed restore left catalog rows: %+v", rows)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "collections")); len(ents) != 0 {
		t.Fatalf("a failed restore left directories: %v", ents)
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func TestCheckpointWritesParquetAndTheTierShipsItAfterItsSnapshot(t *testing.T) {
	store := tier.NewMemStore()
	cfg := tieredConfig(store, nil)
	var failNext bool
	cfg.Tier.Parquet = func(_ context.Context, w io.Writer, v *RecordView) error {
		if failNext {
			failNext = false
			return errors.New("disk full (test)")
		}
		n := 0
		if err := v.Each(func(Record) error { n++; return nil }); err != nil {
			return err
		}
		_, err := io.WriteString(w, framedParquet(fmt.Sprintf("export of %s/%s at %d: %d records", v.Info().Tenant, v.Info().Name, v.Info().Seq, n)))
		return err
	}
	db := openTestDB(t, t.TempDir(), cfg)
	defer db.Close()
	h := createTiered(t, db, "docs")
	plain, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "plain", Dimension: 8, Metric: distance.L2})
	if err != nil {
		t.Fatal(err)
	}
	upsertRange(t, h, "a", 0, 120)
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	seq := h.c.appliedSeq()
	// Writes after the checkpoint are not in its export.
	upsertRange(t, h, "b", 0, 30)
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	found, err := tier.FindShipped(bg, store, "box", "default", "docs", "")
	if err != nil {
		t.Fatal(err)
	}
	m := found.Manifest
	if len(m.Parquet) != 1 || m.Parquet[0].LastSeq != seq || m.NewestSnapshot() != seq {
		t.Fatalf("manifest: parquet %+v, newest snapshot %d, want both at %d", m.Parquet, m.NewestSnapshot(), seq)
	}
	b, err := tier.DownloadBytes(bg, store, found.Key, m.Parquet[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := framedParquet(fmt.Sprintf("export of default/docs at %d: 120 records", seq)); string(b) != want {
		t.Fatalf("shipped export %q, want %q", b, want)
	}
	if staged, _ := os.ReadDir(tier.StagingDir(h.dir)); len(staged) != 0 {
		t.Fatalf("staged files left after shipping: %v", staged)
	}
	// A memory collection exports nothing.
	ph, _ := db.Collection(DefaultTenant, "plain")
	upsertRange(t, ph, "p", 0, 10)
	if err := ph.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tier.StagingDir(db.collectionDir(plain.ID))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a memory collection has a staging directory: %v", err)
	}
	// A failed export costs the export, not the checkpoint or its upload.
	failNext = true
	upsertRange(t, h, "c", 0, 10)
	if err := h.Checkpoint(); err != nil {
		t.Fatalf("checkpoint with a failing export: %v", err)
	}
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	found, _ = tier.FindShipped(bg, store, "box", "default", "docs", "")
	if got := found.Manifest; got.NewestSnapshot() != h.c.appliedSeq() || len(got.Parquet) != 1 || got.Parquet[0].LastSeq != seq {
		t.Fatalf("after a failed export: newest snapshot %d (want %d), parquet %+v", got.NewestSnapshot(), h.c.appliedSeq(), got.Parquet)
	}
	if staged, _ := os.ReadDir(tier.StagingDir(h.dir)); len(staged) != 0 {
		t.Fatalf("a failed export left files: %v", staged)
	}
}

// An upload that hangs (a store that accepts the connection and never
// answers) holds up neither writes nor checkpoints nor searches: uploads
// run on the tier's own goroutines, the write path only kicks them. The
// background loops run here, as in a server.
func TestAHungUploadHoldsUpNoWriteCheckpointOrSearch(t *testing.T) {
	fs := tier.NewFaultStore(tier.NewMemStore())
	hung := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	fs.OnPutProgress(func(key string, sent int64) {
		once.Do(func() {
			close(hung)
			<-release
		})
	})
	cfg := tieredConfig(fs, nil)
	cfg.Tier.NoBackground = false
	cfg.Tier.Tier.ShipInterval = 10 * time.Millisecond
	db := openTestDB(t, t.TempDir(), cfg)
	defer db.Close()
	defer close(release) // before Close: its last ship pass must not hang either
	h := createTiered(t, db, "docs")
	upsertRange(t, h, "a", 0, 100)
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hung:
	case <-time.After(time.Minute):
		t.Fatal("no upload started within a minute of the checkpoint")
	}
	// The upload hangs; the collection goes on.
	done := make(chan error, 1)
	go func() {
		for i := 100; i < 400; i += 10 {
			if err := h.Upsert(bg, recs("a", i, i+10, 8)); err != nil {
				done <- err
				return
			}
		}
		if err := h.Checkpoint(); err != nil {
			done <- err
			return
		}
		res, err := h.Search(bg, SearchRequest{Vector: recs("a", 250, 251, 8)[0].Vector, K: 1})
		if err == nil && (len(res.Hits) != 1 || res.Hits[0].ID != "a-250") {
			err = fmt.Errorf("search: %+v", res)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("writes, a checkpoint and a search did not finish within 2 minutes while an upload hung")
	}
	if h.Count() != 400 {
		t.Fatalf("%d records, want 400", h.Count())
	}
}

// A shipped log object whose records do not span what the manifest says
// (bytes that were uploaded whole, but with fewer records than staged):
// the restore refuses, naming the object and the gap, and leaves nothing.
func TestRestoreRefusesAShippedLogWithAGap(t *testing.T) {
	store := tier.NewMemStore()
	db := openTestDB(t, t.TempDir(), tieredConfig(store, nil))
	h := createTiered(t, db, "docs")
	upsertRange(t, h, "a", 0, 100)
	_ = h.Checkpoint()
	for i := range 4 {
		upsertRange(t, h, fmt.Sprintf("b%d", i), 0, 20)
	}
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	db.Close()
	found, err := tier.FindShipped(bg, store, "box", DefaultTenant, "docs", "")
	if err != nil {
		t.Fatal(err)
	}
	m := found.Manifest
	seg := m.Segments[len(m.Segments)-1]
	if seg.LastSeq == seg.FirstSeq {
		t.Fatalf("the last log object holds %d..%d: too few records for the test", seg.FirstSeq, seg.LastSeq)
	}
	// The same object with its last record left out, uploaded with its
	// own (right) SHA-256 and listed under its old range.
	data, err := tier.DownloadBytes(bg, store, found.Key, seg)
	if err != nil {
		t.Fatal(err)
	}
	var cut bytes.Buffer
	cw, err := wal.NewChunkWriter(&cut, seg.FirstSeq)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := wal.ReadChunk(bytes.NewReader(data), func(seq uint64, typ byte, payload []byte) error {
		if seq == seg.LastSeq {
			return nil
		}
		return cw.Append(seq, typ, payload)
	}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cut.Bytes())
	seg.Size, seg.SHA256 = int64(cut.Len()), hex.EncodeToString(sum[:])
	key := strings.TrimSuffix(found.Key, tier.ManifestName) + seg.Key
	if err := store.Put(bg, key, bytesReader(cut.Bytes()), seg.Size, tier.PutOptions{SHA256: seg.SHA256}); err != nil {
		t.Fatal(err)
	}
	m.Segments[len(m.Segments)-1] = seg
	mb, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	msum := sha256.Sum256(mb)
	if err := store.Put(bg, found.Key, bytesReader(mb), int64(len(mb)), tier.PutOptions{SHA256: hex.EncodeToString(msum[:])}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = Restore(bg, dir, Config{}, RestoreOptions{Store: store, Prefix: "box", Name: "docs"})
	if !errors.Is(err, tier.ErrNotRestorable) || !strings.Contains(err.Error(), seg.Key) || !strings.Contains(err.Error(), "gap") {
		t.Fatalf("restore of a shipped log with a gap: %v", err)
	}
	rdb := openTestDB(t, dir, Config{})
	defer rdb.Close()
	if len(rdb.ListCollections("")) != 0 {
		t.Fatal("a refused restore left a collection")
	}
}

// The catalog is not shipped, so each manifest records the settings a
// restore must recreate: the quantization (its codes come back from the
// snapshot, not encoded again) and the payload indexes, including one
// declared after the collection last shipped data (a settings change alone
// writes a new manifest).
func TestRestoreRecreatesQuantizationAndPayloadIndexes(t *testing.T) {
	store := tier.NewMemStore()
	dir := filepath.Join(t.TempDir(), "original")
	db := openTestDB(t, dir, tieredConfig(store, nil))
	const dim = 16
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "q", Dimension: dim, Metric: distance.L2, TierPolicy: TierMemoryS3,
		Quantization: Quantization{Type: QuantInt8, Ranges: RangesDimension}, Indexes: map[string]string{"group": "keyword"}}); err != nil {
		t.Fatal(err)
	}
	h, err := db.Collection(DefaultTenant, "q")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	all := quantRecords(rng, "a", 1500, dim)
	for i := range all {
		all[i].Metadata = map[string]any{"group": fmt.Sprint("g", i%10), "n": float64(i)}
	}
	for s := 0; s < len(all); s += 250 {
		if err := h.Upsert(bg, all[s:s+250]); err != nil {
			t.Fatal(err)
		}
	}
	if st := h.WaitQuantization(); st.State != QuantStateReady || !st.Traversing {
		t.Fatalf("before the checkpoint: %+v", st)
	}
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	// Declared after the last write: nothing new to ship but the setting.
	if _, err := h.CreateIndex(bg, "n", "float"); err != nil {
		t.Fatal(err)
	}
	h.WaitIndexBuilds()
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	filters := []string{`{"group": "g3"}`, `{"n": {"$lt": 100}}`, `{"group": "g3", "n": {"$gte": 700}}`}
	queries := clustered(rng, 10, dim)
	answers := func(h *Handle) (out []string) {
		t.Helper()
		for _, fs := range filters {
			f, err := filter.Parse([]byte(fs))
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range queries {
				res, err := h.Search(bg, SearchRequest{Vector: q, K: 5, Ef: 64, Filter: f})
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(res.Strategy, "index_") {
					t.Fatalf("%s answered by %s, without its indexes", fs, res.Strategy)
				}
				for _, hit := range res.Hits {
					out = append(out, hit.ID)
				}
			}
		}
		return out
	}
	want := answers(h)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	res, err := Restore(bg, fresh, Config{}, RestoreOptions{Store: store, Prefix: "box", Name: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != len(all) || res.Quantization != QuantInt8 || !slices.Equal(res.PayloadIndexes, []string{"group", "n"}) {
		t.Fatalf("restore: %+v", res)
	}
	rdb := openTestDB(t, fresh, Config{})
	defer rdb.Close()
	rh, err := rdb.Collection(DefaultTenant, "q")
	if err != nil {
		t.Fatal(err)
	}
	if q := rh.Info().Config.Quantization; q.Type != QuantInt8 || q.Ranges != RangesDimension || q.Originals != OriginalsMemory {
		t.Fatalf("quantization after the restore: %+v", q)
	}
	if st := rh.WaitQuantization(); st.State != QuantStateReady || !st.Traversing || rh.c.q.trainings != 0 {
		t.Fatalf("after the restore: %+v, %d trainings (the codes come from the snapshot)", st, rh.c.q.trainings)
	}
	rh.WaitIndexBuilds()
	var fields []string
	for _, in := range rh.Indexes() {
		fields = append(fields, in.Field+":"+in.Type)
	}
	if !slices.Equal(fields, []string{"group:keyword", "n:float"}) {
		t.Fatalf("payload indexes after the restore: %v", fields)
	}
	if got := answers(rh); !slices.Equal(got, want) {
		t.Fatalf("filtered answers after the restore differ:\n got %v\nwant %v", got, want)
	}
}
