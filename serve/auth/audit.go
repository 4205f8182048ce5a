package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
)

// Result is how an audited request ended.
type Result string

// The results.
const (
	ResultOK     Result = meta.AuditOK
	ResultDenied Result = meta.AuditDenied // refused: unauthenticated, permission, throttled
	ResultFailed Result = meta.AuditFailed // allowed but failed
)

// ResultOf classifies a request's error: nil is ok; unauthenticated,
// permission_denied and rate_limited are denied; anything else failed.
func ResultOf(err error) Result {
	if err == nil {
		return ResultOK
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case api.CodeUnauthenticated, api.CodePermissionDenied, api.CodeRateLimited:
			return ResultDenied
		}
	}
	return ResultFailed
}

// Event is one entry of the audit trail.
type Event struct {
	ID         int64     `json:"id"` // assigned by Record
	Time       time.Time `json:"time"`
	TenantID   string    `json:"tenant"`
	KeyID      string    `json:"key_id"`
	RemoteAddr string    `json:"remote_addr"`
	Action     Action    `json:"action"`
	Target     string    `json:"target"` // e.g. a collection or key id
	Result     Result    `json:"result"`
	RequestID  string    `json:"request_id"`
}

// EventPage is one page of List; NextCursor is "" on the last page.
type EventPage struct {
	Events     []Event `json:"events"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// AuditConfig configures an Auditor. Zero fields take the defaults.
type AuditConfig struct {
	// Retention is how long events are kept (default 90 days).
	Retention time.Duration
	// MaxEvents is the most events kept (default 100000).
	MaxEvents int
	// PruneEvery is how many Records go between prunings (default 100).
	PruneEvery int
	Logger     *slog.Logger // nil discards
	Now        func() time.Time
}

// Audit defaults.
const (
	DefaultAuditRetention  = 90 * 24 * time.Hour
	DefaultAuditMaxEvents  = 100000
	DefaultAuditPruneEvery = 100
	DefaultAuditPage       = 100
)

// maxAuditField bounds each text field of an event: they come from
// requests.
const maxAuditField = 256

// Auditor writes the audit trail: SQLite (audit_events) for List, and
// slog at info level. It is safe for concurrent use.
type Auditor struct {
	store   *meta.Store
	cfg     AuditConfig
	records atomic.Uint64
}

// NewAuditor returns an Auditor over store's audit_events table.
func NewAuditor(store *meta.Store, cfg AuditConfig) *Auditor {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultAuditRetention
	}
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = DefaultAuditMaxEvents
	}
	if cfg.PruneEvery <= 0 {
		cfg.PruneEvery = DefaultAuditPruneEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Auditor{store: store, cfg: cfg}
}

// Record appends e (a zero Time is now) and logs it; every PruneEvery
// records it prunes the trail to Retention and MaxEvents. A failed prune
// is logged, not returned.
func (a *Auditor) Record(ctx context.Context, e Event) (Event, error) {
	if e.Time.IsZero() {
		e.Time = a.cfg.Now()
	}
	row, err := a.store.InsertAuditEvent(ctx, meta.AuditEvent{
		At:         e.Time,
		TenantID:   clip(e.TenantID),
		KeyID:      clip(e.KeyID),
		RemoteAddr: clip(e.RemoteAddr),
		Action:     clip(string(e.Action)),
		Target:     clip(e.Target),
		Result:     string(e.Result),
		RequestID:  clip(e.RequestID),
	})
	if err != nil {
		return Event{}, fmt.Errorf("record audit event: %w", err)
	}
	e = eventOf(row)
	a.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.String("action", string(e.Action)), slog.String("result", string(e.Result)),
		slog.String("tenant", e.TenantID), slog.String("key_id", e.KeyID), slog.String("remote", e.RemoteAddr),
		slog.String("target", e.Target), slog.String("request_id", e.RequestID))
	if a.records.Add(1)%uint64(a.cfg.PruneEvery) == 0 {
		if _, err := a.Prune(ctx); err != nil {
			a.cfg.Logger.Warn("pruning the audit trail failed", "err", err)
		}
	}
	return e, nil
}

// RecordCall records a request of caller: its action, target and outcome
// (see ResultOf).
func (a *Auditor) RecordCall(ctx context.Context, c api.Caller, remoteAddr string, action Action, target, requestID string, callErr error) (Event, error) {
	return a.Record(ctx, Event{TenantID: c.TenantID, KeyID: c.KeyID, RemoteAddr: remoteAddr, Action: action,
		Target: target, Result: ResultOf(callErr), RequestID: requestID})
}

// Prune deletes the events older than Retention and all but the
// MaxEvents newest, and returns how many went.
func (a *Auditor) Prune(ctx context.Context) (int64, error) {
	n, err := a.store.PruneAuditEvents(ctx, a.cfg.Now().Add(-a.cfg.Retention), a.cfg.MaxEvents)
	if err != nil {
		return 0, fmt.Errorf("prune audit trail: %w", err)
	}
	return n, nil
}

// List returns a page of tenant's events (every tenant's when tenant is
// ""), newest first. cursor is "" for the first page and the previous
// page's NextCursor after; limit 0 means DefaultAuditPage, and more than
// meta.MaxAuditPage is cut to it. A malformed cursor is invalid_argument.
func (a *Auditor) List(ctx context.Context, tenant, cursor string, limit int) (EventPage, error) {
	var before int64
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n <= 0 {
			return EventPage{}, api.Errorf(api.CodeInvalidArgument, "cursor %q is not one that a previous page returned", cursor)
		}
		before = n
	}
	switch {
	case limit < 0:
		return EventPage{}, api.Errorf(api.CodeInvalidArgument, "limit %d is negative", limit)
	case limit == 0:
		limit = DefaultAuditPage
	case limit > meta.MaxAuditPage:
		limit = meta.MaxAuditPage
	}
	rows, err := a.store.ListAuditEvents(ctx, tenant, before, limit)
	if err != nil {
		return EventPage{}, fmt.Errorf("list audit events: %w", err)
	}
	page := EventPage{Events: make([]Event, len(rows))}
	for i, r := range rows {
		page.Events[i] = eventOf(r)
	}
	if len(rows) == limit {
		page.NextCursor = strconv.FormatInt(rows[len(rows)-1].ID, 10)
	}
	return page, nil
}

func eventOf(r meta.AuditEvent) Event {
	return Event{ID: r.ID, Time: r.At, TenantID: r.TenantID, KeyID: r.KeyID, RemoteAddr: r.RemoteAddr,
		Action: Action(r.Action), Target: r.Target, Result: Result(r.Result), RequestID: r.RequestID}
}

// clip cuts s to maxAuditField bytes and drops invalid UTF-8 (a rune
// cut in half included).
func clip(s string) string {
	if len(s) > maxAuditField {
		s = s[:maxAuditField]
	}
	return strings.ToValidUTF8(s, "")
}
