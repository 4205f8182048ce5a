package meta

// The dead-letter queue of the object storage tier (migration 0004_tier):
//
//	tier_dlq(id INTEGER PK AUTOINCREMENT, collection_id REFERENCES collections
//	         ON DELETE CASCADE, tenant_id, collection_name, operation
//	         ('upload'|'delete'), kind ('snapshot'|'log'|'parquet'|'manifest'),
//	         object_key, local_file, size, sha256, first_seq, last_seq,
//	         retry_count, last_error, created_at, next_attempt_at,
//	         status ('pending'|'permanent'), UNIQUE(collection_id, operation, object_key))
//
// engine/tier decides what goes in and when; this file only stores it.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// DLQ operations and statuses, as stored.
const (
	DLQUpload       = "upload"
	DLQDelete       = "delete"
	DLQPending      = "pending"
	DLQPermanent    = "permanent"
	MaxDLQPage      = 1000
	maxDLQErrorText = 2000
)

// DLQEntry is a row of tier_dlq.
type DLQEntry struct {
	ID             int64
	CollectionID   string
	TenantID       string
	CollectionName string
	Operation      string // DLQUpload or DLQDelete
	Kind           string // snapshot, log, parquet, manifest
	ObjectKey      string
	LocalFile      string // the file an upload sends; "" for a delete
	Size           int64
	SHA256         string
	FirstSeq       uint64
	LastSeq        uint64
	RetryCount     int
	LastError      string
	CreatedAt      time.Time
	NextAttemptAt  time.Time
	Status         string // DLQPending or DLQPermanent
}

const dlqColumns = `id, collection_id, tenant_id, collection_name, operation, kind, object_key, local_file, size, sha256,
first_seq, last_seq, retry_count, last_error, created_at, next_attempt_at, status`

func scanDLQEntry(sc scanner) (DLQEntry, error) {
	var (
		e                 DLQEntry
		created, next     int64
		firstSeq, lastSeq int64
	)
	err := sc.Scan(&e.ID, &e.CollectionID, &e.TenantID, &e.CollectionName, &e.Operation, &e.Kind, &e.ObjectKey, &e.LocalFile,
		&e.Size, &e.SHA256, &firstSeq, &lastSeq, &e.RetryCount, &e.LastError, &created, &next, &e.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return DLQEntry{}, ErrNotFound
	}
	if err != nil {
		return DLQEntry{}, TranslateError(err)
	}
	e.FirstSeq, e.LastSeq = uint64(firstSeq), uint64(lastSeq)
	e.CreatedAt, e.NextAttemptAt = fromMillis(created), fromMillis(next)
	return e, nil
}

func clipError(s string) string {
	if len(s) > maxDLQErrorText {
		return s[:maxDLQErrorText] + "..."
	}
	return s
}

// PutDLQEntry records a failed operation and returns the row as stored.
// An entry for the same collection, operation and key is updated in place
// (its id, created_at and retry_count are kept; the error, schedule and
// file details are the new ones), so an object is never queued twice. A
// zero CreatedAt is the store's clock; Status "" is pending.
func (s *Store) PutDLQEntry(ctx context.Context, e DLQEntry) (DLQEntry, error) {
	defer s.dlqCounts.changed()
	if e.Operation != DLQUpload && e.Operation != DLQDelete {
		return DLQEntry{}, fmt.Errorf("put dlq entry: operation %q: %w", e.Operation, ErrInvalidArgument)
	}
	if e.Status == "" {
		e.Status = DLQPending
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.now()
	}
	e.LastError = clipError(e.LastError)
	row := s.db.QueryRowContext(ctx, `INSERT INTO tier_dlq (collection_id, tenant_id, collection_name, operation, kind, object_key,
    local_file, size, sha256, first_seq, last_seq, retry_count, last_error, created_at, next_attempt_at, status)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (collection_id, operation, object_key) DO UPDATE SET
    local_file = excluded.local_file, size = excluded.size, sha256 = excluded.sha256, kind = excluded.kind,
    first_seq = excluded.first_seq, last_seq = excluded.last_seq, last_error = excluded.last_error,
    next_attempt_at = excluded.next_attempt_at, status = excluded.status
RETURNING `+dlqColumns,
		e.CollectionID, e.TenantID, e.CollectionName, e.Operation, e.Kind, e.ObjectKey, e.LocalFile, e.Size, e.SHA256,
		int64(e.FirstSeq), int64(e.LastSeq), e.RetryCount, e.LastError, e.CreatedAt.UnixMilli(), e.NextAttemptAt.UnixMilli(), e.Status)
	out, err := scanDLQEntry(row)
	if IsForeignKeyViolation(err) {
		return DLQEntry{}, fmt.Errorf("put dlq entry for %s: collection %s: %w", e.ObjectKey, e.CollectionID, ErrNotFound)
	}
	if err != nil {
		return DLQEntry{}, fmt.Errorf("put dlq entry for %s: %w", e.ObjectKey, err)
	}
	return out, nil
}

// GetDLQEntry returns one entry (ErrNotFound if there is none).
func (s *Store) GetDLQEntry(ctx context.Context, id int64) (DLQEntry, error) {
	e, err := scanDLQEntry(s.db.QueryRowContext(ctx, `SELECT `+dlqColumns+` FROM tier_dlq WHERE id = ?`, id))
	if err != nil {
		return DLQEntry{}, fmt.Errorf("dlq entry %d: %w", id, err)
	}
	return e, nil
}

// DLQFilter selects entries; empty fields select all.
type DLQFilter struct {
	Status       string
	TenantID     string
	CollectionID string
	Operation    string
}

func (f DLQFilter) where() (string, []any) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, v string }{{"status", f.Status}, {"tenant_id", f.TenantID}, {"collection_id", f.CollectionID}, {"operation", f.Operation}} {
		if c.v != "" {
			conds = append(conds, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if len(conds) == 0 {
		return "1 = 1", nil
	}
	return strings.Join(conds, " AND "), args
}

// ListDLQ returns up to limit (1..MaxDLQPage) entries matching f, oldest
// first, whose id is above afterID (the last id of the previous page).
func (s *Store) ListDLQ(ctx context.Context, f DLQFilter, afterID int64, limit int) ([]DLQEntry, error) {
	if limit < 1 || limit > MaxDLQPage {
		return nil, fmt.Errorf("list dlq: limit %d is not in 1..%d: %w", limit, MaxDLQPage, ErrInvalidArgument)
	}
	where, args := f.where()
	args = append(args, afterID, limit)
	out, err := queryAll(ctx, s.db, scanDLQEntry, `SELECT `+dlqColumns+` FROM tier_dlq WHERE `+where+` AND id > ? ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list dlq: %w", err)
	}
	return out, nil
}

// DueDLQEntries returns up to limit pending entries whose next attempt is
// due at now, oldest first (all pending ones, due or not, with anyTime).
func (s *Store) DueDLQEntries(ctx context.Context, now time.Time, limit int, anyTime bool) ([]DLQEntry, error) {
	if limit < 1 {
		return nil, fmt.Errorf("due dlq entries: limit %d: %w", limit, ErrInvalidArgument)
	}
	due := now.UnixMilli()
	if anyTime {
		due = 1<<63 - 1
	}
	out, err := queryAll(ctx, s.db, scanDLQEntry, `SELECT `+dlqColumns+` FROM tier_dlq
WHERE status = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`, DLQPending, due, limit)
	if err != nil {
		return nil, fmt.Errorf("due dlq entries: %w", err)
	}
	return out, nil
}

// UpdateDLQAttempt records a failed retry of entry id: its retry count,
// error, next attempt and status.
func (s *Store) UpdateDLQAttempt(ctx context.Context, id int64, retryCount int, lastError string, next time.Time, status string) error {
	defer s.dlqCounts.changed()
	if status != DLQPending && status != DLQPermanent {
		return fmt.Errorf("update dlq entry %d: status %q: %w", id, status, ErrInvalidArgument)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE tier_dlq SET retry_count = ?, last_error = ?, next_attempt_at = ?, status = ? WHERE id = ?`,
		retryCount, clipError(lastError), next.UnixMilli(), status, id)
	return oneRow(res, err, fmt.Sprintf("update dlq entry %d", id))
}

// DeleteDLQEntry removes entry id (ErrNotFound if there is none).
func (s *Store) DeleteDLQEntry(ctx context.Context, id int64) error {
	defer s.dlqCounts.changed()
	res, err := s.db.ExecContext(ctx, `DELETE FROM tier_dlq WHERE id = ?`, id)
	return oneRow(res, err, fmt.Sprintf("delete dlq entry %d", id))
}

func oneRow(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, TranslateError(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// DLQCount is the number of entries of one collection and status.
type DLQCount struct {
	CollectionID string
	Status       string
	Count        int
}

// CountDLQ counts entries by collection and status. The answer is kept
// until a write that can change it (an entry added, updated or deleted, a
// collection deleted with its entries): the tier's gauges and storage
// status ask at every metrics scrape, and a query per scrape was the
// largest part of what a paced scrape of `akidb top` cost the server
// (docs/top.md).
func (s *Store) CountDLQ(ctx context.Context) ([]DLQCount, error) {
	if out, ok := s.dlqCounts.get(); ok {
		return out, nil
	}
	gen := s.dlqCounts.generation()
	out, err := queryAll(ctx, s.db, func(sc scanner) (DLQCount, error) {
		var c DLQCount
		err := sc.Scan(&c.CollectionID, &c.Status, &c.Count)
		return c, err
	}, `SELECT collection_id, status, COUNT(*) FROM tier_dlq GROUP BY collection_id, status ORDER BY collection_id, status`)
	if err != nil {
		return nil, fmt.Errorf("count dlq: %w", err)
	}
	s.dlqCounts.put(gen, out)
	return slices.Clone(out), nil
}

// dlqCountCache keeps CountDLQ's last answer with the number of changes
// made before it was queried. A writer counts its change after its
// statement is done, so an answer kept under generation g saw every
// change counted up to g; one counted later makes it stale.
type dlqCountCache struct {
	mu     sync.Mutex
	gen    uint64 // changes counted so far
	kept   []DLQCount
	keptAt uint64 // the generation kept was queried at
	ok     bool
}

func (c *dlqCountCache) changed() {
	c.mu.Lock()
	c.gen++
	c.ok = false
	c.mu.Unlock()
}

func (c *dlqCountCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *dlqCountCache) get() ([]DLQCount, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ok || c.keptAt != c.gen {
		return nil, false
	}
	return slices.Clone(c.kept), true
}

func (c *dlqCountCache) put(gen uint64, counts []DLQCount) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.kept, c.keptAt, c.ok = slices.Clone(counts), gen, true
	}
}
