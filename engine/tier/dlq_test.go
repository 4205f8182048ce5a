package tier_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/tier"
)

// queueDeletes puts n delete entries of src's objects in the DLQ, due now
// and one millisecond apart in age, and returns them oldest first.
func queueDeletes(t *testing.T, f *fixture, src *fakeSource, n int) []meta.DLQEntry {
	t.Helper()
	var out []meta.DLQEntry
	for i := range n {
		e, err := f.meta.PutDLQEntry(ctx, meta.DLQEntry{CollectionID: src.info.ID, TenantID: src.info.TenantID, CollectionName: src.info.Name,
			Operation: meta.DLQDelete, Kind: tier.KindLog, ObjectKey: fmt.Sprintf("edge/box1/old/%03d", i), LastError: "first failure",
			CreatedAt: t0.Add(time.Duration(i) * time.Millisecond), NextAttemptAt: t0.Add(time.Duration(i) * time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	f.clock.Advance(time.Second)
	return out
}

func TestDLQSuccessRemovesTheEntry(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	queueDeletes(t, f, src, 1)
	res, err := f.tier.DLQ().RunOnce(ctx)
	if err != nil || res.Attempted != 1 || res.Succeeded != 1 || len(f.dlq("")) != 0 || f.store.Calls(tier.OpDelete) != 1 {
		t.Fatalf("%+v %v, left %+v, %d deletes", res, err, f.dlq(""), f.store.Calls(tier.OpDelete))
	}
}

func TestDLQFailureIncrementsAndBacksOff(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	queueDeletes(t, f, src, 1)
	f.store.FailNext(tier.OpDelete, 1, errors.New("503 slow down"))
	res, err := f.tier.DLQ().RunOnce(ctx)
	if err != nil || res.Failed != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	e := f.dlq("")[0]
	// Retry 1 waits DLQRetryInterval (5m) with equal jitter: jitter 0.5
	// gives 3m45s.
	if e.RetryCount != 1 || e.Status != meta.DLQPending || e.LastError == "first failure" || !e.NextAttemptAt.Equal(f.clock.Now().Add(225*time.Second)) {
		t.Fatalf("entry after a failed retry: %+v (now %v)", e, f.clock.Now())
	}
	// Not due yet: the next run does not touch it.
	if res, _ := f.tier.DLQ().RunOnce(ctx); res.Attempted != 0 || f.store.Calls(tier.OpDelete) != 1 {
		t.Fatalf("an entry was retried before its back-off ended: %+v", res)
	}
}

func TestDLQMaxRetriesMakesItPermanent(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	queueDeletes(t, f, src, 1)
	f.store.FailAlways(tier.OpDelete, errors.New("403 access denied"))
	for i := 1; i <= 3; i++ {
		res, err := f.tier.DLQ().RunOnce(ctx)
		if err != nil || res.Failed != 1 || (i == 3) != (res.Permanent == 1) {
			t.Fatalf("retry %d: %+v %v", i, res, err)
		}
		f.clock.Advance(2 * time.Hour)
	}
	perm := f.dlq(meta.DLQPermanent)
	if len(perm) != 1 || perm[0].RetryCount != 3 || len(f.dlq(meta.DLQPending)) != 0 {
		t.Fatalf("after 3 failed retries: %+v", f.dlq(""))
	}
	if f.obs.retries["permanent_failure"] != 1 || f.obs.retries["failure"] != 2 {
		t.Fatalf("retry metrics %v", f.obs.retries)
	}
}

func TestDLQBatchOfTenOutOfFifteenDueLeavesFive(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	all := queueDeletes(t, f, src, 15)
	res, err := f.tier.DLQ().RunOnce(ctx)
	if err != nil || res.Succeeded != 10 {
		t.Fatalf("%+v %v", res, err)
	}
	left := f.dlq("")
	if len(left) != 5 {
		t.Fatalf("%d entries left, want 5", len(left))
	}
	// The oldest went first.
	for i, e := range left {
		if e.ID != all[10+i].ID {
			t.Fatalf("left %d is %s, want %s", i, e.ObjectKey, all[10+i].ObjectKey)
		}
	}
}

func TestDLQPermanentEntriesAreNotRetriedByTheWorker(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	e := queueDeletes(t, f, src, 1)[0]
	if err := f.meta.UpdateDLQAttempt(ctx, e.ID, 3, "gave up", f.clock.Now(), meta.DLQPermanent); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if res, _ := f.tier.DLQ().RunOnce(ctx); res.Attempted != 0 {
			t.Fatalf("the worker retried a permanent entry: %+v", res)
		}
		if res, _ := f.tier.DLQ().RetryPending(ctx); res.Attempted != 0 {
			t.Fatalf("retrying the pending entries took a permanent one: %+v", res)
		}
		f.clock.Advance(24 * time.Hour)
	}
	if f.store.Calls(tier.OpDelete) != 0 {
		t.Fatal("a permanent entry reached the store")
	}
	// An operator's retry does take it.
	res, err := f.tier.DLQ().RetryEntry(ctx, e.ID)
	if err != nil || res.Succeeded != 1 || len(f.dlq("")) != 0 {
		t.Fatalf("operator retry: %+v %v", res, err)
	}
}

func TestDLQOperatorRetryOfAFailingPermanentEntryKeepsItPermanent(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	e := queueDeletes(t, f, src, 1)[0]
	_ = f.meta.UpdateDLQAttempt(ctx, e.ID, 3, "gave up", f.clock.Now(), meta.DLQPermanent)
	f.store.FailNext(tier.OpDelete, 1, nil)
	if res, err := f.tier.DLQ().RetryEntry(ctx, e.ID); err != nil || res.Failed != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if got, _ := f.meta.GetDLQEntry(ctx, e.ID); got.Status != meta.DLQPermanent || got.RetryCount != 4 {
		t.Fatalf("after a failed operator retry: %+v", got)
	}
	if _, err := f.tier.DLQ().RetryEntry(ctx, 9999); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("unknown entry: %v", err)
	}
}

func TestDLQDiscardOfALogUploadShipsTheRecordsAgainFromTheLog(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	f.register(src)
	_ = f.tier.ShipOnce(ctx)
	src.write(5)
	f.store.FailNext(tier.OpPut, 1, nil)
	_ = f.tier.ShipOnce(ctx)
	e := f.dlq("")[0]
	if _, err := f.tier.DLQ().Discard(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if len(f.dlq("")) != 0 {
		t.Fatal("entry not removed")
	}
	last := src.write(2)
	if err := f.tier.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m := f.manifest(src)
	if _, seqs := f.restoredSeqs(src, m, 0); fmt.Sprint(seqs) != fmt.Sprint(seqRange(1, last)) {
		t.Fatalf("after discarding a log upload: %v", seqs)
	}
	if _, err := f.tier.DLQ().Discard(ctx, e.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second discard: %v", err)
	}
}

// An outage does not turn entries permanent: failures that trip the
// breaker, and failed half-open probes, are put off without counting.
func TestDLQFailuresWhileTheStoreIsDownAreNotCounted(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	queueDeletes(t, f, src, 8)
	f.store.FailAlways(tier.OpAny, errors.New("connection refused"))
	for range 10 {
		if _, err := f.tier.DLQ().RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(10 * time.Minute) // past the back-off and the cool-down: each run starts with a probe
	}
	counted := 0
	for _, e := range f.dlq("") {
		if e.Status == meta.DLQPermanent {
			t.Fatalf("an entry turned permanent during an outage: %+v", e)
		}
		counted += e.RetryCount
	}
	// Only the failures before the breaker opened count (at most 4).
	if counted > 4 {
		t.Fatalf("%d retries counted during the outage", counted)
	}
	f.store.Heal()
	for range 3 {
		_, _ = f.tier.DLQ().RunOnce(ctx)
		f.clock.Advance(10 * time.Minute)
	}
	if left := f.dlq(""); len(left) != 0 {
		t.Fatalf("left after the outage: %+v", left)
	}
}

// After an outage, log shipping resumes at the next ship pass once the
// log object's entry is due: the pass retries it itself.
func TestShipPassRetriesItsDueLogUpload(t *testing.T) {
	f := newFixture(t, nil)
	src := newFakeSource(t, f.meta, "docs")
	f.register(src)
	_ = f.tier.ShipOnce(ctx)
	src.write(5)
	f.store.FailNext(tier.OpPut, 1, nil)
	_ = f.tier.ShipOnce(ctx)
	if len(f.dlq("")) != 1 {
		t.Fatal("no DLQ entry")
	}
	last := src.write(5)
	if err := f.tier.ShipOnce(ctx); err != nil { // due at once: retried, then the rest staged
		t.Fatal(err)
	}
	if m := f.manifest(src); m.ShippedSeq != last || len(f.dlq("")) != 0 {
		t.Fatalf("shipped %d of %d, queue %+v", m.ShippedSeq, last, f.dlq(""))
	}
	if f.obs.retries["success"] != 1 {
		t.Fatalf("retry metrics %v", f.obs.retries)
	}
}
