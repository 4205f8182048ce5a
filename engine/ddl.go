package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/wal"
)

// CreateCollection creates an empty collection for the tenant. The catalog
// row is written first (state creating), then the directory, then the row
// is marked ready: a crash at any point leaves either nothing or a row
// that the next Open rolls back. A taken name is ErrAlreadyExists.
//
// No database-wide lock is held across the catalog writes and the file
// I/O: only the name is claimed (claimName), so other tenants' requests,
// and creates and drops of other names, go on meanwhile.
func (db *DB) CreateCollection(ctx context.Context, tenant string, cfg CollectionConfig) (CollectionInfo, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return CollectionInfo{}, err
	}
	policy, err := db.newCollectionPolicy(cfg.TierPolicy)
	if err != nil {
		return CollectionInfo{}, err
	}
	if err := checkOriginalsPolicy(cfg.Quantization, policy); err != nil {
		return CollectionInfo{}, err
	}
	key := colKey(tenant, cfg.Name)
	existing, release, err := db.claimName(ctx, key)
	if err != nil {
		return CollectionInfo{}, err
	}
	defer release()
	if existing != nil {
		return CollectionInfo{}, fmt.Errorf("collection %q: %w", cfg.Name, ErrAlreadyExists)
	}
	row, err := db.meta.InsertCollection(ctx, meta.Collection{
		TenantID: tenant, Name: cfg.Name, Dimension: cfg.Dimension, Metric: cfg.Metric.String(),
		M: cfg.M, EfConstruction: cfg.EfConstruction, TierPolicy: policy,
	})
	if err != nil {
		return CollectionInfo{}, translateMetaErr(err)
	}
	// From here on the steps must finish or be undone whatever the caller's
	// context does: a cancelled create must not leave a row behind.
	ctx = context.WithoutCancel(ctx)
	for _, f := range sortedKeys(cfg.Indexes) {
		// The collection's open builds them (empty) from these rows.
		if _, err := db.meta.InsertPayloadIndex(ctx, meta.PayloadIndex{CollectionID: row.ID, Field: f, Type: cfg.Indexes[f]}); err != nil {
			return CollectionInfo{}, db.undoCreate(ctx, row, translateMetaErr(err))
		}
	}
	db.cfg.crashAt("create:row")
	dir := db.collectionDir(row.ID)
	if err := db.cfg.FS.MkdirAll(dir, 0o700); err != nil {
		return CollectionInfo{}, db.undoCreate(ctx, row, fmt.Errorf("create %s: %w", dir, err))
	}
	if err := syncDir(db.cfg.FS, db.collectionsDir()); err != nil {
		return CollectionInfo{}, db.undoCreate(ctx, row, err)
	}
	db.cfg.crashAt("create:dir")
	if cfg.Quantization != (Quantization{Type: QuantNone, Originals: OriginalsMemory, Ranges: RangesAuto}) {
		// Before the row is ready: a crash rolls the create back whole.
		if err := db.meta.SetCollectionQuantization(ctx, row.ID, cfg.Quantization.meta()); err != nil {
			return CollectionInfo{}, db.undoCreate(ctx, row, translateMetaErr(err))
		}
	}
	h, err := db.openCollection(row)
	if err != nil {
		return CollectionInfo{}, db.undoCreate(ctx, row, err)
	}
	db.cfg.crashAt("create:opened")
	if err := db.meta.MarkCollectionReady(ctx, row.ID); err != nil {
		_ = h.close(false)
		return CollectionInfo{}, db.undoCreate(ctx, row, err)
	}
	db.cfg.crashAt("create:ready")
	// Installed even if Close has begun: Close waits for creates in flight
	// and closes what they made. The tier's registration (a catalog read
	// and a directory) happens outside the database lock, like the rest.
	db.mu.Lock()
	db.cols[key] = h
	db.mu.Unlock()
	db.registerWithTier(h)
	return h.Info(), nil
}

// claimName waits until no create or drop of key is in flight, then marks
// one in flight and returns the collection now under that name (nil if
// none) and the function that ends the claim. The claim, not db.mu, is
// what the create or drop holds while it does its I/O.
func (db *DB) claimName(ctx context.Context, key string) (*Handle, func(), error) {
	for {
		db.mu.Lock()
		if db.closed {
			db.mu.Unlock()
			return nil, nil, ErrClosed
		}
		busy, ok := db.busy[key]
		if !ok {
			break
		}
		db.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	defer db.mu.Unlock()
	done := make(chan struct{})
	db.busy[key] = done
	db.ddl.Add(1)
	release := func() {
		db.mu.Lock()
		delete(db.busy, key)
		db.mu.Unlock()
		close(done)
		db.ddl.Done()
	}
	return db.cols[key], release, nil
}

// undoCreate rolls a half-made collection back, as recovery would. A
// full disk as the cause makes the error ErrNoSpace.
func (db *DB) undoCreate(ctx context.Context, row meta.Collection, cause error) error {
	errs := []error{noSpace(cause)}
	if err := db.meta.MarkCollectionDropping(ctx, row.ID); err != nil {
		errs = append(errs, err)
	} else if err := db.removeDirDurably(db.collectionDir(row.ID)); err != nil {
		errs = append(errs, err)
	} else if err := db.meta.DeleteCollection(ctx, row.ID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// DropCollection deletes a collection and its data. The row is marked
// dropping first, so a crash part-way is finished by the next Open. Like
// CreateCollection it holds only the name's claim across its I/O; it
// waits for a checkpoint of the collection that is running (Handle.close).
func (db *DB) DropCollection(ctx context.Context, tenant, name string) error {
	key := colKey(tenant, name)
	h, release, err := db.claimName(ctx, key)
	if err != nil {
		return err
	}
	defer release()
	if h == nil {
		return fmt.Errorf("collection %q: %w", name, ErrNotFound)
	}
	if err := db.meta.MarkCollectionDropping(ctx, h.info.ID); err != nil {
		return translateMetaErr(err)
	}
	ctx = context.WithoutCancel(ctx) // marked: finish it whatever the caller does
	db.cfg.crashAt("drop:marked")
	db.mu.Lock()
	delete(db.cols, key)
	db.mu.Unlock()
	db.unregisterFromTier(h)
	db.cfg.crashAt("drop:closing")
	if err := h.close(false); err != nil {
		db.log.Warn("closing a dropped collection's log", "collection", name, "err", err)
	}
	if err := db.removeDirDurably(h.dir); err != nil {
		return err
	}
	db.cfg.crashAt("drop:removed")
	if err := db.meta.DeleteCollection(ctx, h.info.ID); err != nil {
		return translateMetaErr(err)
	}
	return nil
}

// noSpace marks err with ErrNoSpace when it comes from a full disk: the
// filesystem's ENOSPC or EDQUOT, the log's refusal, SQLite's SQLITE_FULL.
func noSpace(err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) {
		return err
	}
	if wal.IsNoSpace(err) || errors.Is(err, wal.ErrNoSpace) || errors.Is(err, meta.ErrNoSpace) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

func translateMetaErr(err error) error {
	switch {
	case errors.Is(err, meta.ErrNoSpace):
		return noSpace(err)
	case errors.Is(err, meta.ErrAlreadyExists):
		return fmt.Errorf("%w: %w", ErrAlreadyExists, err)
	case errors.Is(err, meta.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, meta.ErrInvalidArgument):
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return err
}
