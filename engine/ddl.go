package engine

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/akidb/akidb/engine/meta"
)

// CreateCollection creates an empty collection for the tenant. The catalog
// row is written first (state creating), then the directory, then the row
// is marked ready: a crash at any point leaves either nothing or a row
// that the next Open rolls back. A taken name is ErrAlreadyExists.
func (db *DB) CreateCollection(ctx context.Context, tenant string, cfg CollectionConfig) (CollectionInfo, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return CollectionInfo{}, err
	}
	policy, err := db.newCollectionPolicy(cfg.TierPolicy)
	if err != nil {
		return CollectionInfo{}, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return CollectionInfo{}, ErrClosed
	}
	if _, ok := db.cols[colKey(tenant, cfg.Name)]; ok {
		return CollectionInfo{}, fmt.Errorf("collection %q: %w", cfg.Name, ErrAlreadyExists)
	}
	row, err := db.meta.InsertCollection(ctx, meta.Collection{
		TenantID: tenant, Name: cfg.Name, Dimension: cfg.Dimension, Metric: cfg.Metric.String(),
		M: cfg.M, EfConstruction: cfg.EfConstruction, TierPolicy: policy,
	})
	if err != nil {
		return CollectionInfo{}, translateMetaErr(err)
	}
	db.cfg.crashAt("create:row")
	dir := db.collectionDir(row.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return CollectionInfo{}, db.undoCreate(ctx, row, fmt.Errorf("create %s: %w", dir, err))
	}
	if err := syncDir(db.collectionsDir()); err != nil {
		return CollectionInfo{}, db.undoCreate(ctx, row, err)
	}
	db.cfg.crashAt("create:dir")
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
	db.cols[colKey(tenant, cfg.Name)] = h
	db.registerWithTier(h)
	return h.Info(), nil
}

// undoCreate rolls a half-made collection back, as recovery would.
func (db *DB) undoCreate(ctx context.Context, row meta.Collection, cause error) error {
	errs := []error{cause}
	if err := db.meta.MarkCollectionDropping(ctx, row.ID); err != nil {
		errs = append(errs, err)
	} else if err := removeDirDurably(db.collectionDir(row.ID)); err != nil {
		errs = append(errs, err)
	} else if err := db.meta.DeleteCollection(ctx, row.ID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// DropCollection deletes a collection and its data. The row is marked
// dropping first, so a crash part-way is finished by the next Open.
func (db *DB) DropCollection(ctx context.Context, tenant, name string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return ErrClosed
	}
	h, ok := db.cols[colKey(tenant, name)]
	if !ok {
		return fmt.Errorf("collection %q: %w", name, ErrNotFound)
	}
	if err := db.meta.MarkCollectionDropping(ctx, h.info.ID); err != nil {
		return translateMetaErr(err)
	}
	db.cfg.crashAt("drop:marked")
	delete(db.cols, colKey(tenant, name))
	db.unregisterFromTier(h)
	if err := h.close(false); err != nil {
		db.log.Warn("closing a dropped collection's log", "collection", name, "err", err)
	}
	if err := removeDirDurably(h.dir); err != nil {
		return err
	}
	db.cfg.crashAt("drop:removed")
	if err := db.meta.DeleteCollection(ctx, h.info.ID); err != nil {
		return translateMetaErr(err)
	}
	return nil
}

func translateMetaErr(err error) error {
	switch {
	case errors.Is(err, meta.ErrAlreadyExists):
		return fmt.Errorf("%w: %w", ErrAlreadyExists, err)
	case errors.Is(err, meta.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, meta.ErrInvalidArgument):
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return err
}
