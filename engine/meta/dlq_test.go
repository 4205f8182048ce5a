package meta

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func readyCollection(t *testing.T, s *Store, name string) Collection {
	t.Helper()
	c, err := s.InsertCollection(context.Background(), sampleCollection(DefaultTenantID, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkCollectionReady(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTierPolicy(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	in := sampleCollection(DefaultTenantID, "a")
	in.TierPolicy = TierMemoryS3
	c, err := s.InsertCollection(ctx, in)
	if err != nil || c.TierPolicy != TierMemoryS3 {
		t.Fatalf("insert with memory-s3: %+v %v", c, err)
	}
	in.Name, in.TierPolicy = "b", "tape"
	if _, err := s.InsertCollection(ctx, in); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("insert with an unknown policy: %v", err)
	}
	for _, p := range []string{TierS3Only, TierMemory} {
		if err := s.SetCollectionTierPolicy(ctx, c.ID, p); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetCollectionByID(ctx, c.ID); got.TierPolicy != p {
			t.Fatalf("policy %q after setting %q", got.TierPolicy, p)
		}
	}
	if err := s.SetCollectionTierPolicy(ctx, c.ID, "tape"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unknown policy: %v", err)
	}
	if err := s.SetCollectionTierPolicy(ctx, "00000000-0000-4000-8000-000000000000", TierMemory); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown collection: %v", err)
	}
	// The CHECK constraint holds even for a writer that skips the Go check.
	if _, err := s.DB().ExecContext(ctx, `UPDATE collections SET tier_policy = 'tape' WHERE id = ?`, c.ID); err == nil {
		t.Fatal("the catalog accepted an unknown tier policy")
	}
}

func TestDLQEntries(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	c := readyCollection(t, s, "docs")
	next := testNow.Add(time.Minute)
	e, err := s.PutDLQEntry(ctx, DLQEntry{CollectionID: c.ID, TenantID: c.TenantID, CollectionName: c.Name, Operation: DLQUpload, Kind: "log",
		ObjectKey: "p/docs/log/1-9", LocalFile: "/x/1-9.wal", Size: 100, SHA256: "ab", FirstSeq: 1, LastSeq: 9, LastError: "boom", NextAttemptAt: next})
	if err != nil {
		t.Fatal(err)
	}
	if e.ID == 0 || e.Status != DLQPending || !e.CreatedAt.Equal(testNow) || !e.NextAttemptAt.Equal(next) || e.LastSeq != 9 || e.RetryCount != 0 {
		t.Fatalf("inserted %+v", e)
	}
	// The same object again updates the entry and keeps its id and count.
	if err := s.UpdateDLQAttempt(ctx, e.ID, 2, "again", next, DLQPending); err != nil {
		t.Fatal(err)
	}
	e2, err := s.PutDLQEntry(ctx, DLQEntry{CollectionID: c.ID, TenantID: c.TenantID, CollectionName: c.Name, Operation: DLQUpload, Kind: "log",
		ObjectKey: "p/docs/log/1-9", LocalFile: "/y/1-9.wal", Size: 100, SHA256: "ab", LastSeq: 9, LastError: "third", NextAttemptAt: next})
	if err != nil || e2.ID != e.ID || e2.RetryCount != 2 || e2.LocalFile != "/y/1-9.wal" || e2.LastError != "third" {
		t.Fatalf("re-put: %+v %v", e2, err)
	}
	if _, err := s.PutDLQEntry(ctx, DLQEntry{CollectionID: "00000000-0000-4000-8000-000000000000", Operation: DLQDelete, Kind: "log", ObjectKey: "k"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("entry of an unknown collection: %v", err)
	}
	if _, err := s.PutDLQEntry(ctx, DLQEntry{CollectionID: c.ID, Operation: "move", Kind: "log", ObjectKey: "k"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unknown operation: %v", err)
	}
	for i := range 4 {
		if _, err := s.PutDLQEntry(ctx, DLQEntry{CollectionID: c.ID, TenantID: c.TenantID, Operation: DLQDelete, Kind: "snapshot",
			ObjectKey: "p/docs/snap/" + string(rune('a'+i)), NextAttemptAt: testNow.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	due, err := s.DueDLQEntries(ctx, testNow.Add(time.Second), 10, false)
	if err != nil || len(due) != 2 || due[0].ObjectKey != "p/docs/snap/a" {
		t.Fatalf("due: %+v %v", due, err)
	}
	if all, _ := s.DueDLQEntries(ctx, testNow, 10, true); len(all) != 5 {
		t.Fatalf("any time: %d entries", len(all))
	}
	page, err := s.ListDLQ(ctx, DLQFilter{}, 0, 3)
	if err != nil || len(page) != 3 || page[0].ID != e.ID {
		t.Fatalf("page 1: %+v %v", page, err)
	}
	page2, _ := s.ListDLQ(ctx, DLQFilter{}, page[2].ID, 3)
	if len(page2) != 2 {
		t.Fatalf("page 2: %d", len(page2))
	}
	if err := s.UpdateDLQAttempt(ctx, page2[1].ID, 3, "gave up", next, DLQPermanent); err != nil {
		t.Fatal(err)
	}
	if perm, _ := s.ListDLQ(ctx, DLQFilter{Status: DLQPermanent}, 0, 10); len(perm) != 1 || perm[0].RetryCount != 3 {
		t.Fatalf("permanent: %+v", perm)
	}
	if due, _ := s.DueDLQEntries(ctx, next.Add(time.Hour), 10, true); len(due) != 4 {
		t.Fatalf("a permanent entry is due: %d", len(due))
	}
	counts, err := s.CountDLQ(ctx)
	if err != nil || len(counts) != 2 || counts[0].Count != 4 || counts[1].Count != 1 {
		t.Fatalf("counts %+v %v", counts, err)
	}
	if err := s.DeleteDLQEntry(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDLQEntry(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.GetDLQEntry(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	// Dropping the collection takes its queue with it.
	if err := s.MarkCollectionDropping(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCollection(ctx, c.ID); err != nil {
		t.Fatalf("drop a collection with queued entries: %v", err)
	}
	if left, _ := s.ListDLQ(ctx, DLQFilter{}, 0, 10); len(left) != 0 {
		t.Fatalf("entries outlived their collection: %+v", left)
	}
}

// TestDLQCountsFollowEveryChange: CountDLQ's kept answer is the table's
// after every kind of change (an entry added, updated, made permanent,
// deleted, a collection deleted with its entries), and it is kept while
// nothing changes (a row written behind the Store's back is not seen).
func TestDLQCountsFollowEveryChange(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	a, b := readyCollection(t, s, "a"), readyCollection(t, s, "b")
	direct := func() []DLQCount {
		t.Helper()
		rows, err := s.DB().QueryContext(ctx, `SELECT collection_id, status, COUNT(*) FROM tier_dlq GROUP BY collection_id, status ORDER BY collection_id, status`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := []DLQCount{}
		for rows.Next() {
			var c DLQCount
			if err := rows.Scan(&c.CollectionID, &c.Status, &c.Count); err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
		}
		return out
	}
	check := func(step string) {
		t.Helper()
		for range 2 { // the query, then the kept answer
			got, err := s.CountDLQ(ctx)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if want := direct(); !slices.Equal(append([]DLQCount{}, got...), want) {
				t.Fatalf("%s: counts %+v, the table has %+v", step, got, want)
			}
		}
	}
	put := func(c Collection, key string) DLQEntry {
		t.Helper()
		e, err := s.PutDLQEntry(ctx, DLQEntry{CollectionID: c.ID, TenantID: c.TenantID, CollectionName: c.Name, Operation: DLQUpload, Kind: "log",
			ObjectKey: key, LocalFile: "/x/" + key, Size: 1, SHA256: "ab", LastSeq: 1, LastError: "boom", NextAttemptAt: testNow})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	check("empty")
	e1 := put(a, "k1")
	check("one added")
	put(a, "k2")
	e3 := put(b, "k3")
	check("three added")
	if err := s.UpdateDLQAttempt(ctx, e1.ID, 1, "again", testNow, DLQPermanent); err != nil {
		t.Fatal(err)
	}
	check("one made permanent")
	if err := s.DeleteDLQEntry(ctx, e3.ID); err != nil {
		t.Fatal(err)
	}
	check("one deleted")
	// Kept while nothing changes through the Store.
	kept, _ := s.CountDLQ(ctx)
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM tier_dlq`); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.CountDLQ(ctx); !slices.Equal(again, kept) {
		t.Fatalf("counts were queried again without a change: %+v then %+v", kept, again)
	}
	put(a, "k4")
	check("added after a write behind its back")
	if err := s.MarkCollectionDropping(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCollection(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	check("collection deleted with its entries")
}
