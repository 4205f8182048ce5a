package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Collection states. A collection's row and its directory change
// together, in this order:
//
//	create: InsertCollection (creating) -> make the directory -> MarkCollectionReady
//	drop:   MarkCollectionDropping -> remove the directory -> DeleteCollection
//
// so after a crash a row that is not ready says which way to finish: a
// creating one is rolled back (remove its directory if any, delete the
// row), a dropping one rolled forward (remove the directory, delete the
// row). See ListCollectionsByState.
const (
	StateCreating = "creating"
	StateReady    = "ready"
	StateDropping = "dropping"
)

// Collection is a row of the collections table.
type Collection struct {
	ID             string // canonical UUID; the directory collections/<ID>/
	TenantID       string
	Name           string // unique within the tenant, in any state
	Dimension      int
	Metric         string
	M              int // HNSW max neighbours per node, as built
	EfConstruction int // HNSW candidate list size at insert, as built
	State          string
	CreatedAt      time.Time // UTC, millisecond precision
	// TierPolicy is TierMemory, TierMemoryS3 or TierS3Only ("" on insert:
	// TierMemory).
	TierPolicy string
}

// Tiering policies (migration 0004); engine/tier says what each means.
const (
	TierMemory   = "memory"
	TierMemoryS3 = "memory-s3"
	TierS3Only   = "s3-only"
)

// ValidTierPolicy reports whether the catalog accepts p.
func ValidTierPolicy(p string) bool { return p == TierMemory || p == TierMemoryS3 || p == TierS3Only }

const collectionColumns = `id, tenant_id, name, dimension, metric, m, ef_construction, state, created_at, tier_policy`

// InsertCollection adds c in state creating and returns the row as stored.
// An empty c.ID gets a generated one (a set one must satisfy
// ValidCollectionID); c.State and c.CreatedAt are ignored. A name already
// used in the tenant (by a collection in any state, including one being
// dropped) fails with ErrAlreadyExists, an unknown tenant with ErrNotFound.
// The stored M and EfConstruction are the ones the index is built with, so
// they must be positive: resolve defaults before calling.
func (s *Store) InsertCollection(ctx context.Context, c Collection) (Collection, error) {
	if err := validateCollection(c); err != nil {
		return Collection{}, fmt.Errorf("insert collection %q (tenant %s): %w", c.Name, c.TenantID, err)
	}
	if c.ID == "" {
		id, err := s.newID()
		if err != nil {
			return Collection{}, fmt.Errorf("insert collection %q (tenant %s): %w", c.Name, c.TenantID, err)
		}
		c.ID = id
	}
	c.State = StateCreating
	c.CreatedAt = fromMillis(s.now().UnixMilli())
	if c.TierPolicy == "" {
		c.TierPolicy = TierMemory
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO collections (`+collectionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.TenantID, c.Name, c.Dimension, c.Metric, c.M, c.EfConstruction, c.State, c.CreatedAt.UnixMilli(), c.TierPolicy)
	if IsForeignKeyViolation(err) {
		return Collection{}, fmt.Errorf("insert collection %q: tenant %s: %w", c.Name, c.TenantID, ErrNotFound)
	}
	if err != nil {
		return Collection{}, fmt.Errorf("insert collection %q (tenant %s): %w", c.Name, c.TenantID, TranslateError(err))
	}
	return c, nil
}

func validateCollection(c Collection) error {
	if c.ID != "" && !ValidCollectionID(c.ID) {
		return fmt.Errorf("id %q is not a canonical lowercase UUID: %w", c.ID, ErrInvalidArgument)
	}
	if c.TenantID == "" {
		return fmt.Errorf("tenant id is empty: %w", ErrInvalidArgument)
	}
	if err := validateName("collection", c.Name); err != nil {
		return err
	}
	switch {
	case c.Dimension <= 0:
		return fmt.Errorf("dimension %d is not positive: %w", c.Dimension, ErrInvalidArgument)
	case c.Metric == "":
		return fmt.Errorf("metric is empty: %w", ErrInvalidArgument)
	case c.M <= 0:
		return fmt.Errorf("m %d is not positive: %w", c.M, ErrInvalidArgument)
	case c.EfConstruction <= 0:
		return fmt.Errorf("ef_construction %d is not positive: %w", c.EfConstruction, ErrInvalidArgument)
	case c.TierPolicy != "" && !ValidTierPolicy(c.TierPolicy):
		return fmt.Errorf("tier policy %q is not memory, memory-s3 or s3-only: %w", c.TierPolicy, ErrInvalidArgument)
	}
	return nil
}

// validTransition lists the state changes SetCollectionState allows.
// creating -> dropping lets a failed create be undone through the drop
// path; nothing leaves dropping but DeleteCollection.
func validTransition(from, to string) bool {
	switch from {
	case StateCreating:
		return to == StateReady || to == StateDropping
	case StateReady:
		return to == StateDropping
	}
	return false
}

func knownState(state string) bool {
	return state == StateCreating || state == StateReady || state == StateDropping
}

// SetCollectionState moves collection id to state. Allowed: creating ->
// ready, creating -> dropping, ready -> dropping; setting the state it is
// already in is a no-op, so a step retried after a crash succeeds. Any
// other change fails with ErrInvalidTransition, an unknown id with
// ErrNotFound. The change is durable when it returns.
func (s *Store) SetCollectionState(ctx context.Context, id, state string) (err error) {
	if !knownState(state) {
		return fmt.Errorf("set collection %s state: unknown state %q: %w", id, state, ErrInvalidArgument)
	}
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the read below is not overtaken
	if err != nil {
		return fmt.Errorf("set collection %s state to %s: begin: %w", id, state, TranslateError(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	from, err := collectionState(ctx, tx, id)
	if err != nil {
		return fmt.Errorf("set collection %s state to %s: %w", id, state, err)
	}
	if from == state {
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("set collection %s state to %s: commit: %w", id, state, TranslateError(err))
		}
		return nil
	}
	if !validTransition(from, state) {
		return fmt.Errorf("collection %s: cannot go from %s to %s: %w", id, from, state, ErrInvalidTransition)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE collections SET state = ? WHERE id = ?`, state, id); err != nil {
		return fmt.Errorf("set collection %s state to %s: %w", id, state, TranslateError(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set collection %s state to %s: commit: %w", id, state, TranslateError(err))
	}
	return nil
}

// MarkCollectionReady ends a create: the directory is in place.
func (s *Store) MarkCollectionReady(ctx context.Context, id string) error {
	return s.SetCollectionState(ctx, id, StateReady)
}

// MarkCollectionDropping starts a drop, before the directory is removed.
func (s *Store) MarkCollectionDropping(ctx context.Context, id string) error {
	return s.SetCollectionState(ctx, id, StateDropping)
}

// DeleteCollection removes the row of a collection in state creating (a
// create rolled back) or dropping (a drop finished), once its directory is
// gone. A ready collection fails with ErrInvalidTransition: mark it
// dropping first, so that a crash between removing the directory and the
// row is rolled forward on restart. An unknown id fails with ErrNotFound.
func (s *Store) DeleteCollection(ctx context.Context, id string) (err error) {
	// Its DLQ entries go with it (ON DELETE CASCADE).
	defer s.dlqCounts.changed()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete collection %s: begin: %w", id, TranslateError(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	from, err := collectionState(ctx, tx, id)
	if err != nil {
		return fmt.Errorf("delete collection %s: %w", id, err)
	}
	if from == StateReady {
		return fmt.Errorf("delete collection %s: it is ready; mark it dropping first: %w", id, ErrInvalidTransition)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM collections WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete collection %s: %w", id, TranslateError(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete collection %s: commit: %w", id, TranslateError(err))
	}
	return nil
}

func collectionState(ctx context.Context, tx *sql.Tx, id string) (string, error) {
	var state string
	err := tx.QueryRowContext(ctx, `SELECT state FROM collections WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", TranslateError(err)
	}
	return state, nil
}

// GetCollection returns the tenant's collection of that name in whatever
// state it is. Serving a client, treat a state other than ready as not
// found: the collection is half made or half gone.
func (s *Store) GetCollection(ctx context.Context, tenantID, name string) (Collection, error) {
	c, err := scanCollection(s.db.QueryRowContext(ctx,
		`SELECT `+collectionColumns+` FROM collections WHERE tenant_id = ? AND name = ?`, tenantID, name))
	if err != nil {
		return Collection{}, fmt.Errorf("collection %q in tenant %s: %w", name, tenantID, err)
	}
	return c, nil
}

// GetCollectionByID returns the collection with this id, in any state.
func (s *Store) GetCollectionByID(ctx context.Context, id string) (Collection, error) {
	c, err := scanCollection(s.db.QueryRowContext(ctx, `SELECT `+collectionColumns+` FROM collections WHERE id = ?`, id))
	if err != nil {
		return Collection{}, fmt.Errorf("collection %s: %w", id, err)
	}
	return c, nil
}

// ListCollections returns the collections of a tenant ("" for every
// tenant) in all states, ordered by tenant id then name. An unknown tenant
// has no collections: the result is empty, not ErrNotFound.
func (s *Store) ListCollections(ctx context.Context, tenantID string) ([]Collection, error) {
	query := `SELECT ` + collectionColumns + ` FROM collections`
	var args []any
	if tenantID != "" {
		query += ` WHERE tenant_id = ?`
		args = append(args, tenantID)
	}
	query += ` ORDER BY tenant_id, name`
	out, err := s.queryCollections(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list collections (tenant %q): %w", tenantID, err)
	}
	return out, nil
}

// ListCollectionsByState returns the collections of every tenant that are
// in one of states (all of them if none is given), ordered by tenant id
// then name. Startup recovery calls it with StateCreating and
// StateDropping, and the orphan sweep with no states to learn every id
// that owns a directory.
func (s *Store) ListCollectionsByState(ctx context.Context, states ...string) ([]Collection, error) {
	query := `SELECT ` + collectionColumns + ` FROM collections`
	args := make([]any, 0, len(states))
	if len(states) > 0 {
		for _, st := range states {
			if !knownState(st) {
				return nil, fmt.Errorf("list collections by state: unknown state %q: %w", st, ErrInvalidArgument)
			}
			args = append(args, st)
		}
		query += ` WHERE state IN (?` + strings.Repeat(`, ?`, len(states)-1) + `)`
	}
	query += ` ORDER BY tenant_id, name`
	out, err := s.queryCollections(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list collections in states %v: %w", states, err)
	}
	return out, nil
}

func (s *Store) queryCollections(ctx context.Context, query string, args ...any) ([]Collection, error) {
	return queryAll(ctx, s.db, scanCollection, query, args...)
}

func scanCollection(sc scanner) (Collection, error) {
	var (
		c       Collection
		created int64
	)
	err := sc.Scan(&c.ID, &c.TenantID, &c.Name, &c.Dimension, &c.Metric, &c.M, &c.EfConstruction, &c.State, &created, &c.TierPolicy)
	if errors.Is(err, sql.ErrNoRows) {
		return Collection{}, ErrNotFound
	}
	if err != nil {
		return Collection{}, TranslateError(err)
	}
	c.CreatedAt = fromMillis(created)
	return c, nil
}

// SetCollectionTierPolicy changes a collection's tiering policy. An
// unknown policy is ErrInvalidArgument, an unknown id ErrNotFound.
func (s *Store) SetCollectionTierPolicy(ctx context.Context, id, policy string) error {
	if !ValidTierPolicy(policy) {
		return fmt.Errorf("set collection %s tier policy: %q is not memory, memory-s3 or s3-only: %w", id, policy, ErrInvalidArgument)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE collections SET tier_policy = ? WHERE id = ?`, policy, id)
	if err != nil {
		return fmt.Errorf("set collection %s tier policy: %w", id, TranslateError(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set collection %s tier policy: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("set collection %s tier policy: %w", id, ErrNotFound)
	}
	return nil
}
