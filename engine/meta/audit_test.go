package meta

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestAuditEventsPagingAndPruning(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	for i := 0; i < 10; i++ {
		tenant := "a"
		if i%2 == 1 {
			tenant = "b"
		}
		e, err := s.InsertAuditEvent(ctx, AuditEvent{At: testNow.Add(time.Duration(i) * time.Hour), TenantID: tenant, KeyID: "k",
			RemoteAddr: "10.0.0.1", Action: "vector.upsert", Target: fmt.Sprint("c", i), Result: AuditOK, RequestID: fmt.Sprint("r", i)})
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != int64(i+1) {
			t.Fatalf("event %d got id %d", i, e.ID)
		}
	}
	if _, err := s.InsertAuditEvent(ctx, AuditEvent{Action: "x", Result: "maybe"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unknown result: %v", err)
	}
	if _, err := s.ListAuditEvents(ctx, "", 0, 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("limit 0: %v", err)
	}

	// Newest first, in pages, per tenant.
	var ids []int64
	before := int64(0)
	for {
		page, err := s.ListAuditEvents(ctx, "a", before, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if e.TenantID != "a" {
				t.Fatalf("tenant b's event in tenant a's list: %+v", e)
			}
			ids = append(ids, e.ID)
		}
		before = page[len(page)-1].ID
	}
	if fmt.Sprint(ids) != "[9 7 5 3 1]" {
		t.Fatalf("tenant a's events %v", ids)
	}
	all, err := s.ListAuditEvents(ctx, "", 0, MaxAuditPage)
	if err != nil || len(all) != 10 || all[0].ID != 10 || all[0].Target != "c9" || all[0].RequestID != "r9" {
		t.Fatalf("all: %d events, first %+v, %v", len(all), all, err)
	}

	// By age: events 1..3 are older than testNow+3h.
	n, err := s.PruneAuditEvents(ctx, testNow.Add(3*time.Hour), 0)
	if err != nil || n != 3 {
		t.Fatalf("prune by age deleted %d, %v; want 3", n, err)
	}
	// By count: keep the 4 newest of 7.
	n, err = s.PruneAuditEvents(ctx, time.Time{}, 4)
	if err != nil || n != 3 {
		t.Fatalf("prune by count deleted %d, %v; want 3", n, err)
	}
	n, err = s.PruneAuditEvents(ctx, time.Time{}, 4)
	if err != nil || n != 0 {
		t.Fatalf("second prune by count deleted %d, %v; want 0", n, err)
	}
	all, _ = s.ListAuditEvents(ctx, "", 0, MaxAuditPage)
	if len(all) != 4 || all[0].ID != 10 || all[3].ID != 7 {
		t.Fatalf("after pruning: %+v", all)
	}

	// Ids keep increasing after the table is emptied.
	if _, err := s.PruneAuditEvents(ctx, testNow.Add(100*time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	e, err := s.InsertAuditEvent(ctx, AuditEvent{Action: "x", Result: AuditDenied})
	if err != nil || e.ID != 11 || !e.At.Equal(testNow.Truncate(time.Millisecond)) {
		t.Fatalf("insert after emptying: %+v, %v", e, err)
	}
}
