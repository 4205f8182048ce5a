package meta

import (
	"context"
	"fmt"
	"time"
)

// Audit results, as stored.
const (
	AuditOK     = "ok"
	AuditDenied = "denied"
	AuditFailed = "failed"
)

// MaxAuditPage bounds one page of ListAuditEvents.
const MaxAuditPage = 1000

// AuditEvent is a row of the audit_events table.
type AuditEvent struct {
	ID         int64     // assigned on insert, increasing
	At         time.Time // UTC, millisecond precision
	TenantID   string
	KeyID      string
	RemoteAddr string
	Action     string
	Target     string
	Result     string // AuditOK, AuditDenied or AuditFailed
	RequestID  string
}

const auditColumns = `id, at, tenant_id, key_id, remote_addr, action, target, result, request_id`

// InsertAuditEvent appends e (e.ID is ignored; a zero e.At is the store's
// clock) and returns it as stored. An unknown result or an empty action
// fails with ErrInvalidArgument.
func (s *Store) InsertAuditEvent(ctx context.Context, e AuditEvent) (AuditEvent, error) {
	if e.Result != AuditOK && e.Result != AuditDenied && e.Result != AuditFailed {
		return AuditEvent{}, fmt.Errorf("insert audit event: result %q is not ok, denied or failed: %w", e.Result, ErrInvalidArgument)
	}
	if e.Action == "" {
		return AuditEvent{}, fmt.Errorf("insert audit event: action is empty: %w", ErrInvalidArgument)
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = fromMillis(e.At.UnixMilli())
	res, err := s.db.ExecContext(ctx, `INSERT INTO audit_events (at, tenant_id, key_id, remote_addr, action, target, result, request_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.At.UnixMilli(), e.TenantID, e.KeyID, e.RemoteAddr, e.Action, e.Target, e.Result, e.RequestID)
	if err != nil {
		return AuditEvent{}, fmt.Errorf("insert audit event %s: %w", e.Action, TranslateError(err))
	}
	if e.ID, err = res.LastInsertId(); err != nil {
		return AuditEvent{}, fmt.Errorf("insert audit event %s: %w", e.Action, err)
	}
	return e, nil
}

// ListAuditEvents returns up to limit events (1..MaxAuditPage) of one
// tenant, or of all when tenantID is empty, newest first, whose id is
// below beforeID (beforeID <= 0: from the newest). The next page is asked
// for with the last returned event's ID.
func (s *Store) ListAuditEvents(ctx context.Context, tenantID string, beforeID int64, limit int) ([]AuditEvent, error) {
	if limit < 1 || limit > MaxAuditPage {
		return nil, fmt.Errorf("list audit events: limit %d is not in 1..%d: %w", limit, MaxAuditPage, ErrInvalidArgument)
	}
	q := `SELECT ` + auditColumns + ` FROM audit_events WHERE 1 = 1`
	var args []any
	if tenantID != "" {
		q += ` AND tenant_id = ?`
		args = append(args, tenantID)
	}
	if beforeID > 0 {
		q += ` AND id < ?`
		args = append(args, beforeID)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	out, err := queryAll(ctx, s.db, scanAuditEvent, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}

func scanAuditEvent(sc scanner) (AuditEvent, error) {
	var (
		e  AuditEvent
		at int64
	)
	if err := sc.Scan(&e.ID, &at, &e.TenantID, &e.KeyID, &e.RemoteAddr, &e.Action, &e.Target, &e.Result, &e.RequestID); err != nil {
		return AuditEvent{}, err
	}
	e.At = fromMillis(at)
	return e, nil
}

// PruneAuditEvents deletes the events older than olderThan (zero: no age
// limit), then all but the keep newest (keep <= 0: no count limit), in one
// transaction, and returns how many it deleted.
func (s *Store) PruneAuditEvents(ctx context.Context, olderThan time.Time, keep int) (deleted int64, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune audit events: begin: %w", TranslateError(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if !olderThan.IsZero() {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE at < ?`, olderThan.UnixMilli())
		if err != nil {
			return 0, fmt.Errorf("prune audit events by age: %w", TranslateError(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("prune audit events by age: %w", err)
		}
		deleted += n
	}
	if keep > 0 {
		// Everything at or below the (keep+1)-th newest id goes; nothing
		// when there are keep rows or fewer (the subquery is NULL).
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_events
WHERE id <= (SELECT id FROM audit_events ORDER BY id DESC LIMIT 1 OFFSET ?)`, keep)
		if err != nil {
			return 0, fmt.Errorf("prune audit events by count: %w", TranslateError(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("prune audit events by count: %w", err)
		}
		deleted += n
	}
	if err = tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune audit events: commit: %w", TranslateError(err))
	}
	return deleted, nil
}
