package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/serve/api"
)

func TestAuditRetentionAndPaging(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	var logs syncBuffer
	au := NewAuditor(e.store, AuditConfig{Retention: time.Hour, MaxEvents: 7, PruneEvery: 5, Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	caller := api.Caller{TenantID: "default", KeyID: "aaaaaaaaaaaaaaaa", Role: "writer"}
	for i := 1; i <= 4; i++ {
		ev, err := au.RecordCall(ctx, caller, "192.0.2.1:1", ActionVectorUpsert, fmt.Sprint("docs-", i), fmt.Sprint("req-", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		if ev.ID != int64(i) || !ev.Time.Equal(e.clock.Now()) || ev.Result != ResultOK {
			t.Fatalf("event %+v", ev)
		}
		e.clock.Advance(time.Minute)
	}
	if !strings.Contains(logs.String(), "msg=audit action=vector.upsert result=ok tenant=default key_id=aaaaaaaaaaaaaaaa") {
		t.Fatalf("audit log line missing:\n%s", logs.String())
	}
	// Two hours on, the fifth record prunes the four old ones.
	e.clock.Advance(2 * time.Hour)
	if _, err := au.RecordCall(ctx, caller, "", ActionCollectionDelete, "docs", "req-5",
		api.Errorf(api.CodePermissionDenied, "no")); err != nil {
		t.Fatal(err)
	}
	page, err := au.List(ctx, "", "", 0)
	if err != nil || len(page.Events) != 1 || page.Events[0].Result != ResultDenied || page.NextCursor != "" {
		t.Fatalf("after pruning by age: %+v, %v", page, err)
	}

	// Count: of 5 + 10 = 15 records, prunes at the 10th and 15th keep 7.
	for i := 6; i <= 15; i++ {
		tenant := "default"
		if i%2 == 0 {
			tenant = "acme"
		}
		if _, err := au.Record(ctx, Event{TenantID: tenant, Action: ActionKeyCreate, Result: ResultFailed,
			Target: strings.Repeat("é", 200), RequestID: fmt.Sprint("req-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []int64
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := au.List(ctx, "", cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			ids = append(ids, ev.ID)
			if len(ev.Target) > maxAuditField || !strings.HasPrefix(ev.Target, "éé") || strings.ContainsRune(ev.Target, '\uFFFD') {
				t.Fatalf("target not clipped cleanly: %d bytes %q", len(ev.Target), ev.Target)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if fmt.Sprint(ids) != "[15 14 13 12 11 10 9]" {
		t.Fatalf("events after pruning by count, newest first: %v", ids)
	}
	acme, err := au.List(ctx, "acme", "", 100)
	if err != nil || len(acme.Events) != 3 || acme.Events[0].ID != 14 {
		t.Fatalf("acme's events: %+v, %v", acme, err)
	}

	_, err = au.List(ctx, "", "abc", 10)
	wantCode(t, err, api.CodeInvalidArgument)
	_, err = au.List(ctx, "", "", -1)
	wantCode(t, err, api.CodeInvalidArgument)
	if _, err := au.Record(ctx, Event{Action: "x", Result: "maybe"}); err == nil {
		t.Fatal("an unknown result was recorded")
	}
}

func TestResultOf(t *testing.T) {
	for err, want := range map[error]Result{
		nil:                                      ResultOK,
		api.Errorf(api.CodeUnauthenticated, ""):  ResultDenied,
		api.Errorf(api.CodePermissionDenied, ""): ResultDenied,
		api.Errorf(api.CodeRateLimited, ""):      ResultDenied,
		api.Errorf(api.CodeNotFound, ""):         ResultFailed,
		fmt.Errorf("disk on fire"):               ResultFailed,
	} {
		if got := ResultOf(err); got != want {
			t.Errorf("ResultOf(%v) = %s, want %s", err, got, want)
		}
	}
}
