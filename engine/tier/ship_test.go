package tier_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/tier"
)

var ctx = context.Background()

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestShipSnapshotThenLogAndManifestLast(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	f.register(src)
	src.write(10)
	snap := src.checkpoint(t)
	last := src.write(60) // more than one 1 KiB log object
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m := f.manifest(src)
	if m.ShippedSeq != last || m.NewestSnapshot() != snap || len(m.Segments) < 2 || m.Generation != 1 {
		t.Fatalf("manifest: shipped %d (want %d), newest snapshot %d, %d segments, generation %d", m.ShippedSeq, last, m.NewestSnapshot(), len(m.Segments), m.Generation)
	}
	if m.Tenant != "default" || m.Name != "docs" || m.Dimension != 4 || m.Metric != "l2" || m.HNSW.M != 16 || m.Seed != 7 || m.TierPolicy != meta.TierMemoryS3 {
		t.Fatalf("manifest identity: %+v", m)
	}
	gotSnap, seqs := f.restoredSeqs(src, m, 0)
	if gotSnap != snap || fmt.Sprint(seqs) != fmt.Sprint(seqRange(snap+1, last)) {
		t.Fatalf("restore plan: snapshot %d, records %v", gotSnap, seqs)
	}
	if got := f.tier.KeepLogFrom(src.info.ID); got != last+1 {
		t.Fatalf("KeepLogFrom %d, want %d", got, last+1)
	}
	if staged, _ := os.ReadDir(filepath.Join(src.dir, "tier", "staging")); len(staged) != 0 {
		t.Fatalf("staged files left after shipping: %v", staged)
	}
	if _, err := os.Stat(filepath.Join(src.dir, "tier", tier.ManifestName)); err != nil {
		t.Fatalf("local copy of the manifest: %v", err)
	}
	st, _ := f.tier.CollectionStatus(src.info.ID)
	if st.ShippedSeq != last || st.DurableSeq != last || st.ShipLag != 0 || st.PendingUploads != 0 || st.NewestSnapshot == nil || st.NewestSnapshot.LastSeq != snap {
		t.Fatalf("status: %+v", st)
	}
	// Nothing new: a pass writes nothing.
	puts := f.store.Calls(tier.OpPut)
	if err := f.tier.ShipOnce(ctx); err != nil || f.store.Calls(tier.OpPut) != puts {
		t.Fatalf("an idle pass uploaded %d objects (%v)", f.store.Calls(tier.OpPut)-puts, err)
	}
}

func TestShipLogFromTheStartWithoutSnapshot(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	f.register(src)
	last := src.write(7)
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m := f.manifest(src)
	snap, seqs := f.restoredSeqs(src, m, 0)
	if m.ShippedSeq != last || snap != 0 || fmt.Sprint(seqs) != fmt.Sprint(seqRange(1, last)) {
		t.Fatalf("shipped %d, snapshot %d, records %v", m.ShippedSeq, snap, seqs)
	}
}

// The first of the plan's deterministic tests: a checkpoint under
// memory-s3 triggers the upload, and the retention keeps the newest 3
// snapshots with the log after the oldest of them, deleting the rest only
// after the manifest without them is written.
func TestCheckpointUnderMemoryS3UploadsAndAppliesRetention(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	f.register(src)
	var snaps []uint64
	for range 5 {
		src.write(20)
		snaps = append(snaps, src.checkpoint(t))
		src.write(3)
		if err := f.tier.ShipOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	m := f.manifest(src)
	var kept []uint64
	for _, s := range m.Snapshots {
		kept = append(kept, s.LastSeq)
	}
	if fmt.Sprint(kept) != fmt.Sprint(snaps[2:]) {
		t.Fatalf("kept snapshots %v, want %v", kept, snaps[2:])
	}
	for _, s := range m.Segments {
		if s.LastSeq <= snaps[2] {
			t.Fatalf("segment %s ends before the oldest kept snapshot %d", s.Key, snaps[2])
		}
	}
	// The store holds exactly what the manifest lists.
	prefix := tier.CollectionPrefix("edge/box1", "default", "docs", src.info.ID)
	want := map[string]bool{tier.ManifestName: true}
	for _, list := range [][]tier.Object{m.Snapshots, m.Segments} {
		for _, o := range list {
			want[o.Key] = true
		}
	}
	for _, k := range f.objectKeys(prefix) {
		if !want[k] {
			t.Errorf("object %s is in the store but not in the manifest", k)
		}
		delete(want, k)
	}
	if len(want) != 0 {
		t.Fatalf("listed but missing: %v", want)
	}
	// Restoring to a point covered by the oldest kept snapshot works; one
	// before it is refused with a clear error.
	if _, seqs := f.restoredSeqs(src, m, snaps[2]+5); len(seqs) != 5 {
		t.Fatalf("restore to %d: %v", snaps[2]+5, seqs)
	}
	if _, err := m.Plan(snaps[1]); !errors.Is(err, tier.ErrNotRestorable) {
		t.Fatalf("restore before the oldest kept snapshot: %v", err)
	}
	// Old local snapshots are not held.
	if f.tier.HoldsSnapshot(src.info.ID, snaps[0]) {
		t.Fatal("a shipped snapshot is held")
	}
}

// The second: a retry that succeeds after 3 failures makes exactly 4
// upload calls (the first attempt and three retries).
func TestRetrySucceedingAfterThreeFailuresMakesExactlyFourCalls(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	f.register(src)
	if err := f.tier.ShipOnce(ctx); err != nil { // reads the (absent) manifest
		t.Fatal(err)
	}
	last := src.write(3)
	f.store.FailNext(tier.OpPut, 3, nil)
	puts := f.store.Calls(tier.OpPut)
	if err := f.tier.ShipOnce(ctx); err == nil {
		t.Fatal("the pass reported no failure")
	}
	if e := f.dlq(meta.DLQPending); len(e) != 1 || e[0].RetryCount != 0 || e[0].Kind != tier.KindLog || e[0].LastSeq != last {
		t.Fatalf("DLQ after the failed upload: %+v", e)
	}
	for i := 1; i <= 3; i++ {
		res, err := f.tier.DLQ().RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		left := f.dlq("")
		if i < 3 {
			if res.Failed != 1 || len(left) != 1 || left[0].RetryCount != i {
				t.Fatalf("retry %d: %+v, queue %+v", i, res, left)
			}
		} else if res.Succeeded != 1 || len(left) != 0 {
			t.Fatalf("retry %d: %+v, queue %+v", i, res, left)
		}
		f.clock.Advance(2 * time.Hour) // past any back-off
	}
	if n := f.store.Calls(tier.OpPut) - puts; n != 4+1 { // 4 of the log object, 1 of the manifest
		t.Fatalf("%d puts, want 4 of the log object and 1 of the manifest", n)
	}
	if m := f.manifest(src); m.ShippedSeq != last {
		t.Fatalf("shipped %d after the retry, want %d", m.ShippedSeq, last)
	}
	if f.obs.retries["success"] != 1 || f.obs.retries["failure"] != 2 {
		t.Fatalf("retry metrics %v", f.obs.retries)
	}
}

// The third: the breaker trips on a failing store, uploads then go to the
// DLQ without reaching the store, and it closes through half-open once
// the store is back; nothing sleeps.
func TestBreakerTripAndRecovery(t *testing.T) {
	f := newFixture(t, nil)
	var srcs []*fakeSource
	for i := range 3 {
		src := newFakeSource(t, f.meta, fmt.Sprintf("c%d", i))
		f.register(src)
		srcs = append(srcs, src)
	}
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	f.store.FailAlways(tier.OpAny, errors.New("connection refused"))
	for round := 0; f.tier.Breaker().State() == tier.BreakerClosed; round++ {
		if round == 10 {
			t.Fatal("the breaker never opened")
		}
		for _, s := range srcs {
			s.write(5)
			s.checkpoint(t)
		}
		_ = f.tier.ShipOnce(ctx)
	}
	st := f.tier.Breaker().Status()
	if st.State != tier.BreakerOpen || st.LastError == "" {
		t.Fatalf("breaker: %+v", st)
	}
	calls := f.store.Calls(tier.OpAny)
	for _, s := range srcs {
		s.write(5)
		s.checkpoint(t)
	}
	if err := f.tier.ShipOnce(ctx); !errors.Is(err, tier.ErrBreakerOpen) {
		t.Fatalf("pass with the breaker open: %v", err)
	}
	if n := f.store.Calls(tier.OpAny); n != calls {
		t.Fatalf("%d calls reached the store while the breaker was open", n-calls)
	}
	// One snapshot and one log object per collection wait in the queue:
	// newer snapshots supersede older ones, and the log is not copied
	// again while a log object waits.
	pending := f.dlq(meta.DLQPending)
	if len(pending) != 6 {
		t.Fatalf("DLQ holds %d entries, want 6: %+v", len(pending), pending)
	}
	if res, _ := f.tier.DLQ().RunOnce(ctx); res.Deferred != 6 || res.Attempted != 0 {
		t.Fatalf("retry run with the breaker open: %+v", res)
	}
	if e := f.dlq(meta.DLQPending); e[0].RetryCount != 0 {
		t.Fatalf("a deferred retry was counted: %+v", e[0])
	}
	f.store.Heal()
	f.clock.Advance(st.Cooldown)
	if got := f.tier.Breaker().State(); got != tier.BreakerHalfOpen {
		t.Fatalf("after the cool-down: %v", got)
	}
	res, err := f.tier.DLQ().RunOnce(ctx)
	if err != nil || res.Succeeded != 6 || len(f.dlq("")) != 0 {
		t.Fatalf("retry run after recovery: %+v %v, left %+v", res, err, f.dlq(""))
	}
	if f.tier.Breaker().State() != tier.BreakerClosed {
		t.Fatalf("breaker after a good probe: %v", f.tier.Breaker().State())
	}
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range srcs {
		m := f.manifest(s)
		snaps, _ := s.Snapshots()
		if m.ShippedSeq != s.LastSeq() || m.NewestSnapshot() != snaps[0] {
			t.Fatalf("%s: shipped %d of %d, newest snapshot %d of %d", s.info.Name, m.ShippedSeq, s.LastSeq(), m.NewestSnapshot(), snaps[0])
		}
		if _, seqs := f.restoredSeqs(s, m, 0); len(seqs) != 0 {
			t.Fatalf("%s: the newest snapshot is the last write, yet the plan replays %v", s.info.Name, seqs)
		}
	}
}

func TestOlderSnapshotInTheQueueIsNotHeldOnceSuperseded(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	f.register(src)
	_ = f.tier.ShipOnce(ctx)
	f.store.FailAlways(tier.OpPut, nil)
	src.write(5)
	s1 := src.checkpoint(t)
	_ = f.tier.ShipOnce(ctx)
	if !f.tier.HoldsSnapshot(src.info.ID, s1) {
		t.Fatal("a snapshot waiting in the DLQ is not held")
	}
	src.write(5)
	s2 := src.checkpoint(t)
	_ = f.tier.ShipOnce(ctx)
	if f.tier.HoldsSnapshot(src.info.ID, s1) || !f.tier.HoldsSnapshot(src.info.ID, s2) {
		t.Fatalf("held: %d %v, %d %v", s1, f.tier.HoldsSnapshot(src.info.ID, s1), s2, f.tier.HoldsSnapshot(src.info.ID, s2))
	}
	for _, e := range f.dlq("") {
		if e.Kind == tier.KindSnapshot && e.LastSeq != s2 {
			t.Fatalf("a superseded snapshot stays queued: %+v", e)
		}
	}
	// The log is still kept locally from the start: nothing is shipped.
	if got := f.tier.KeepLogFrom(src.info.ID); got != 1 {
		t.Fatalf("KeepLogFrom %d during the outage", got)
	}
}

func TestCutTransferGoesToTheDLQAndLeavesNothingVisible(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	f.register(src)
	_ = f.tier.ShipOnce(ctx)
	src.write(50)
	f.store.CutNextPut(100)
	if err := f.tier.ShipOnce(ctx); !errors.Is(err, tier.ErrTransferCut) {
		t.Fatalf("pass: %v", err)
	}
	e := f.dlq(meta.DLQPending)
	if len(e) != 1 {
		t.Fatalf("DLQ: %+v", e)
	}
	if _, err := f.mem.Head(ctx, e[0].ObjectKey); !errors.Is(err, tier.ErrNotFound) {
		t.Fatalf("a cut upload is visible: %v", err)
	}
	if _, err := os.Stat(e[0].LocalFile); err != nil {
		t.Fatalf("the file of a queued upload is gone: %v", err)
	}
	if res, _ := f.tier.DLQ().RunOnce(ctx); res.Succeeded != 1 {
		t.Fatalf("retry: %+v", res)
	}
	if _, err := os.Stat(e[0].LocalFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the staged file outlived its upload: %v", err)
	}
	if m := f.manifest(src); m.ShippedSeq != 50 {
		t.Fatalf("shipped %d", m.ShippedSeq)
	}
}

func TestRestartCleansOrphansAndFinishesTheQueue(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	f.register(src)
	src.write(10)
	src.checkpoint(t)
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// A crash leaves: a staged file nobody queued, an object uploaded but
	// never listed, and an unfinished multipart upload; a queued upload
	// with its file.
	prefix := tier.CollectionPrefix("edge/box1", "default", "docs", src.info.ID)
	orphanFile := filepath.Join(src.dir, "tier", "staging", "00000000000000000002-00000000000000000003.wal")
	if err := os.WriteFile(orphanFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, s := shaOf([]byte("y"))
	put(t, f.mem, prefix+"log/00000000000000000011-00000000000000000012.wal", []byte("y"), s)
	f.mem.LeaveIncompleteUpload(prefix + "snapshots/00000000000000000099.snap")
	src.write(5)
	f.store.FailNext(tier.OpPut, 1, nil)
	_ = f.tier.ShipOnce(ctx)
	queued := f.dlq(meta.DLQPending)
	if len(queued) != 1 {
		t.Fatalf("queue: %+v", queued)
	}
	f.tier.Close()

	f.tier = f.newTier(nil)
	f.register(src)
	if _, err := os.Stat(orphanFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an orphaned staged file survived the restart: %v", err)
	}
	if _, err := os.Stat(queued[0].LocalFile); err != nil {
		t.Fatalf("the file of a queued upload was removed: %v", err)
	}
	if got := f.tier.KeepLogFrom(src.info.ID); got != 11 {
		t.Fatalf("KeepLogFrom after the restart: %d, want 11 (from the local copy of the manifest)", got)
	}
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if ups, _ := f.mem.ListIncompleteUploads(ctx, prefix); len(ups) != 0 {
		t.Fatalf("unfinished uploads after the restart: %+v", ups)
	}
	for _, k := range f.objectKeys(prefix) {
		if k == "log/00000000000000000011-00000000000000000012.wal" {
			t.Fatal("an object no manifest lists survived the sweep")
		}
	}
	// The pass retried the due log upload itself.
	if left := f.dlq(""); len(left) != 0 {
		t.Fatalf("queue after the restart's first pass: %+v", left)
	}
	if m := f.manifest(src); m.ShippedSeq != 15 {
		t.Fatalf("shipped %d after the restart", m.ShippedSeq)
	}
}

func TestPolicySwitchedOnAfterTheLogWasTruncatedShipsFromASnapshot(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	src.write(30)
	src.truncateLog(21) // records 1..20 are only in a snapshot now... which does not exist yet
	f.register(src)
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if src.ckptReqs == 0 {
		t.Fatal("no checkpoint asked for although the log alone cannot be shipped")
	}
	snap := src.checkpoint(t)
	last := src.write(4)
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m := f.manifest(src)
	got, seqs := f.restoredSeqs(src, m, 0)
	if m.ShippedSeq != last || got != snap || fmt.Sprint(seqs) != fmt.Sprint(seqRange(snap+1, last)) {
		t.Fatalf("shipped %d, snapshot %d, records %v", m.ShippedSeq, got, seqs)
	}
}

func TestShipLag(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	f.register(src)
	_ = f.tier.ShipOnce(ctx)
	src.write(3)
	f.store.FailAlways(tier.OpPut, nil)
	_ = f.tier.ShipOnce(ctx) // sees the writes at t0
	f.clock.Advance(42 * time.Second)
	st, _ := f.tier.CollectionStatus(src.info.ID)
	if st.ShipLag != 42*time.Second || !st.OldestUnshippedAt.Equal(t0) || st.PendingUploads != 1 {
		t.Fatalf("status during the outage: %+v", st)
	}
	f.store.Heal()
	_, _ = f.tier.DLQ().RunOnce(ctx)
	st, _ = f.tier.CollectionStatus(src.info.ID)
	if st.ShipLag != 0 || st.ShippedSeq != 3 || st.PendingUploads != 0 {
		t.Fatalf("status after recovery: %+v", st)
	}
}

func put(t *testing.T, s tier.ObjectStore, key string, data []byte, sum string) {
	t.Helper()
	if err := s.Put(ctx, key, bytesReader(data), int64(len(data)), tier.PutOptions{SHA256: sum}); err != nil {
		t.Fatal(err)
	}
}

// Each manifest records the collection's settings as they are when it is
// written; a change of settings alone writes a new one (a restore must
// recreate what the catalog holds now), and settings that cannot be read
// leave the last recorded ones in place.
func TestManifestRecordsTheSettingsAndFollowsTheirChanges(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	src.settings = tier.Settings{PayloadIndexes: []tier.PayloadIndex{{Field: "group", Type: "keyword"}}}
	f.register(src)
	// Nothing to list yet: no manifest is written for the settings alone.
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if puts := f.store.Calls(tier.OpPut); puts != 0 {
		t.Fatalf("%d uploads with nothing to ship", puts)
	}
	src.write(10)
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m := f.manifest(src)
	if m.Generation != 1 || m.Quantization != nil || fmt.Sprint(m.PayloadIndexes) != "[{group keyword}]" {
		t.Fatalf("first manifest: generation %d, settings %+v", m.Generation, m.Settings)
	}

	set := func(s tier.Settings, err error) {
		src.mu.Lock()
		src.settings, src.settingsErr = s, err
		src.mu.Unlock()
	}
	changed := tier.Settings{Quantization: &tier.Quantization{Type: "int8", Ranges: "auto"},
		PayloadIndexes: []tier.PayloadIndex{{Field: "group", Type: "keyword"}, {Field: "price", Type: "float"}}}
	set(changed, nil)
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m = f.manifest(src)
	if m.Generation != 2 || !m.Settings.Equal(changed) || m.ShippedSeq != 10 {
		t.Fatalf("after the change: generation %d, shipped %d, settings %+v", m.Generation, m.ShippedSeq, m.Settings)
	}
	// Unchanged: an idle pass writes nothing.
	puts := f.store.Calls(tier.OpPut)
	if err := f.tier.ShipOnce(ctx); err != nil || f.store.Calls(tier.OpPut) != puts {
		t.Fatalf("an idle pass uploaded %d objects (%v)", f.store.Calls(tier.OpPut)-puts, err)
	}
	// Unreadable: the data still ships, the settings stay as recorded.
	set(tier.Settings{}, errors.New("catalog busy"))
	last := src.write(5)
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m = f.manifest(src)
	if m.ShippedSeq != last || !m.Settings.Equal(changed) {
		t.Fatalf("with unreadable settings: shipped %d (want %d), settings %+v", m.ShippedSeq, last, m.Settings)
	}
}

// A local snapshot damaged after it was written (one byte of its payload
// flipped) is not shipped: the manifest keeps the older snapshot, the log
// after it keeps shipping, so a restore still reaches every record, and a
// checkpoint is requested, once. The next, intact snapshot ships.
func TestDamagedLocalSnapshotIsNotShipped(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	f.register(src)
	src.write(10)
	good := src.checkpoint(t)
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	src.write(10)
	bad := src.checkpoint(t)
	path := src.SnapshotPath(bad)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	last := src.write(5)
	for range 2 { // the second pass does not check (or report) it again
		if err := f.tier.ShipOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	m := f.manifest(src)
	if m.NewestSnapshot() != good || m.ShippedSeq != last {
		t.Fatalf("manifest: newest snapshot %d (want %d, not the damaged %d), shipped %d (want %d)", m.NewestSnapshot(), good, bad, m.ShippedSeq, last)
	}
	gotSnap, seqs := f.restoredSeqs(src, m, 0)
	if gotSnap != good || fmt.Sprint(seqs) != fmt.Sprint(seqRange(good+1, last)) {
		t.Fatalf("restore plan: snapshot %d, records %v", gotSnap, seqs)
	}
	src.mu.Lock()
	reqs := src.ckptReqs
	src.mu.Unlock()
	if reqs != 1 {
		t.Fatalf("%d checkpoint requests, want 1", reqs)
	}
	next := src.checkpoint(t)
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if m := f.manifest(src); m.NewestSnapshot() != next {
		t.Fatalf("the intact snapshot at %d was not shipped: newest %d", next, m.NewestSnapshot())
	}
}
