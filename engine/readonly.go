package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/akidb/akidb/engine/dirlock"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/wal"
)

// ReadOnlyDB is a data directory opened by an offline tool (akidb export)
// to read collections without changing anything. It holds the directory
// lock, as a server does, so no server can open the directory meanwhile
// and Open fails with a *dirlock.HeldError while a server has it. Unlike
// Open it finishes no interrupted create or drop, cuts no torn log tail,
// applies no catalog migration and writes no checkpoint: the only file it
// writes is the lock file's pid.
type ReadOnlyDB struct {
	dir  string
	log  *slog.Logger
	lock *dirlock.Lock
	meta *meta.Store
}

// ReadOnlyOptions control OpenReadOnly.
type ReadOnlyOptions struct {
	Logger *slog.Logger // nil discards
}

// OpenReadOnly opens the existing data directory dir for reading.
func OpenReadOnly(dir string, opts ReadOnlyOptions) (*ReadOnlyDB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no data directory at %s: %w", dir, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("data dir %s: not a directory", dir)
	}
	// Check before taking the lock, which would create a LOCK file in a
	// directory that is not a data directory at all.
	if _, err := os.Stat(filepath.Join(dir, meta.FileName)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("data dir %s: %w: it has no %s (is it an akidb data directory?)", dir, ErrNotFound, meta.FileName)
	}
	lock, err := dirlock.Acquire(dir)
	if err != nil {
		return nil, err
	}
	store, err := meta.OpenReadOnly(context.Background(), filepath.Join(dir, meta.FileName), opts.Logger)
	if err != nil {
		_ = lock.Release()
		return nil, err
	}
	return &ReadOnlyDB{dir: dir, log: opts.Logger, lock: lock, meta: store}, nil
}

// Close closes the catalog and releases the directory lock.
func (db *ReadOnlyDB) Close() error {
	return errors.Join(db.meta.Close(), db.lock.Release())
}

// ResolveTenant finds a tenant by id, then by name ("" is the default
// tenant), and returns its id.
func (db *ReadOnlyDB) ResolveTenant(ref string) (string, error) {
	if ref == "" {
		return DefaultTenant, nil
	}
	ctx := context.Background()
	t, err := db.meta.GetTenant(ctx, ref)
	if errors.Is(err, meta.ErrNotFound) {
		t, err = db.meta.GetTenantByName(ctx, ref)
	}
	if errors.Is(err, meta.ErrNotFound) {
		return "", fmt.Errorf("tenant %q: %w", ref, ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// View loads the tenant's collection (tenant id or name; "" is the
// default tenant) from its newest intact snapshot and the log after it,
// as a server would, and returns its records at the last logged write.
// The collection is held in memory until the view is dropped.
func (db *ReadOnlyDB) View(tenant, name string) (*RecordView, error) {
	tenantID, err := db.ResolveTenant(tenant)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	row, err := db.meta.GetCollection(ctx, tenantID, name)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return nil, err
	}
	if errors.Is(err, meta.ErrNotFound) || row.State != meta.StateReady {
		// A row being created or dropped is half made or half gone; the
		// next server start finishes it.
		return nil, fmt.Errorf("collection %q in tenant %s: %w%s", name, tenantID, ErrNotFound, db.knownNames(tenantID))
	}
	c, err := db.load(row)
	if err != nil {
		return nil, fmt.Errorf("load collection %s/%s (%s): %w", row.TenantID, row.Name, row.ID, err)
	}
	v := c.View()
	v.info.Tenant = row.TenantID
	return v, nil
}

// knownNames lists the tenant's ready collections for a not-found error.
func (db *ReadOnlyDB) knownNames(tenantID string) string {
	rows, err := db.meta.ListCollections(context.Background(), tenantID)
	if err != nil {
		return ""
	}
	var names []string
	for _, r := range rows {
		if r.State == meta.StateReady {
			names = append(names, r.Name)
		}
	}
	if len(names) == 0 {
		return " (the tenant has no collections)"
	}
	return " (the tenant's collections: " + strings.Join(names, ", ") + ")"
}

// load recovers a collection the way openCollection does, reading only.
func (db *ReadOnlyDB) load(row meta.Collection) (*Collection, error) {
	cfg, err := configFromRow(row)
	if err != nil {
		return nil, err
	}
	// loadNewestSnapshot only reads; it needs a DB for its file system and
	// logger and a Handle for the directory.
	reader := &DB{dir: db.dir, cfg: Config{Logger: db.log}.withDefaults(), log: db.log}
	h := &Handle{db: reader, dir: reader.collectionDir(row.ID), info: CollectionInfo{ID: row.ID, TenantID: row.TenantID, Name: row.Name, Config: cfg, CreatedAt: row.CreatedAt}}
	h.tierPolicy.Store(row.TierPolicy)
	if tiered(row.TierPolicy) {
		// An s3-only collection's snapshot may be in the object store only
		// (its local copy a cache that was dropped): reading what is left
		// locally would miss records.
		if need, whole, err := reader.needsStore(h); err != nil {
			return nil, err
		} else if need {
			what := "its newest snapshot is in the object store only (the local copy is a cache)"
			if whole {
				what = "its local copy is gone"
			}
			return nil, fmt.Errorf("%s collection %s: %s, which an offline tool does not read: restore it into another data directory (akidb restore reads the store) and read it there", row.TierPolicy, row.Name, what)
		}
	}
	c, err := reader.loadNewestSnapshot(h, cfg, true)
	if err != nil {
		return nil, err
	}
	// A reader never re-encodes or moves vectors: that would write.
	c.stopQuant()
	rp := newReplayer(c, runtime.GOMAXPROCS(0))
	rep, err := wal.ReplayDir(reader.cfg.FS, h.walDir(), c.applied+1, rp.submit)
	if err = errors.Join(err, rp.wait()); err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	if rep.LastSeq > c.applied {
		return nil, fmt.Errorf("read log: stopped at sequence %d, log ends at %d", c.applied, rep.LastSeq)
	}
	if rep.TornTail != nil {
		db.log.Warn("log ends in a torn write; read up to it (the next server start cuts it off)", "collection", row.Name, "tenant", row.TenantID, "last_seq", rep.LastSeq, "problem", rep.TornTail.String())
	}
	return c, nil
}
