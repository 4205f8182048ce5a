package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/akidb/akidb/engine/dirlock"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/wal"
)

// DefaultCommitDelay is the longest a durable write waits for concurrent
// writers to share its fsync. On the 2-vCPU VM it was tuned on, an fsync
// costs about 55 µs of CPU, and the goroutine in it holds a P, so fewer,
// larger groups leave more CPU for indexing: 8 single-vector writers went
// from 0.79x (500 µs) to 0.86x (1 ms) of the no-log throughput, medians of
// 5 runs (docs/durability.md).
const DefaultCommitDelay = time.Millisecond

// DefaultTenant is the tenant that exists in every data directory.
const DefaultTenant = meta.DefaultTenantID

// Config tunes a DB. The zero value is usable: fsync=always, log segments
// growing from 64 KiB to 64 MiB, checkpoints every 50,000 records or
// 256 MiB of log.
type Config struct {
	Logger *slog.Logger
	// FS is the filesystem the logs and snapshots use; nil is the OS's.
	FS wal.FS
	// Sync is the log's fsync policy; SyncInterval its period for
	// wal.SyncInterval.
	Sync         wal.SyncPolicy
	SyncInterval time.Duration
	// CommitDelay is the log's group-commit delay under wal.SyncAlways
	// (see wal.Options.CommitDelay): 0 means DefaultCommitDelay, negative
	// disables it.
	CommitDelay time.Duration
	// SegmentSize is the most a log segment grows to (wal.Options); 0 is
	// 64 MiB. A collection's log starts with a 64 KiB segment.
	SegmentSize int64
	// A collection is checkpointed when the log since its last snapshot
	// holds CheckpointRecords records (vectors or deleted ids) or
	// CheckpointBytes bytes. Negative disables the trigger.
	CheckpointRecords int
	CheckpointBytes   int64
	// VacuumRatio: a checkpoint first vacuums the collection when
	// tombstones make up at least this fraction of its nodes (default 0.1).
	VacuumRatio float64
	// Observer receives timings for metrics; nil discards them.
	Observer Observer
	// Tier, if set, ships memory-s3 collections to object storage
	// (tiering.go); DefaultTierPolicy is the policy of collections created
	// without one ("": memory).
	Tier              *TierConfig
	DefaultTierPolicy string

	// crashAt, set by tests, is called at the named steps of create and
	// drop so a child process can die exactly there (or a test can wait
	// for a step).
	crashAt func(step string)
}

func (cfg Config) withDefaults() Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FS == nil {
		cfg.FS = wal.OSFS{}
	}
	switch {
	case cfg.CommitDelay == 0:
		cfg.CommitDelay = DefaultCommitDelay
	case cfg.CommitDelay < 0:
		cfg.CommitDelay = 0
	}
	if cfg.CheckpointRecords == 0 {
		cfg.CheckpointRecords = 50000
	}
	if cfg.CheckpointBytes == 0 {
		cfg.CheckpointBytes = 256 << 20
	}
	if cfg.VacuumRatio == 0 {
		cfg.VacuumRatio = 0.1
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.crashAt == nil {
		cfg.crashAt = func(string) {}
	}
	return cfg
}

// Observer is told about durable operations, for metrics.
type Observer interface {
	WALFsync(d time.Duration)
	Checkpoint(collection string, d time.Duration, err error)
	Recovered(collection string, d time.Duration, replayed int)
}

type nopObserver struct{}

func (nopObserver) WALFsync(time.Duration)                  {}
func (nopObserver) Checkpoint(string, time.Duration, error) {}
func (nopObserver) Recovered(string, time.Duration, int)    {}

// DB is an open data directory: the catalog, and every collection with its
// log and snapshots. It is safe for concurrent use.
type DB struct {
	dir  string
	cfg  Config
	log  *slog.Logger
	lock *dirlock.Lock
	meta *meta.Store

	// mu guards closed, cols and busy, and is never held across I/O.
	mu     sync.RWMutex
	closed bool
	cols   map[string]*Handle // by tenant + "\x00" + name
	// busy holds the names (colKey) with a create or drop in flight; the
	// channel is closed when it ends (claimName).
	busy map[string]chan struct{}
	ddl  sync.WaitGroup // creates and drops in flight, for Close

	ckpt *checkpointer
	tier *tier.Tier // nil: no object storage

	// bg counts the background goroutines that use collections (loads,
	// the residency loop); bgCtx is cancelled by Close.
	bg         sync.WaitGroup
	bgCtx      context.Context
	bgStop     context.CancelFunc
	resKick    chan struct{}
	evictMu    sync.Mutex // one run of the memory budget at a time
	overBudget atomic.Bool
	// loadSlot, with a memory budget, lets one load run at a time (load.go).
	loadSlot chan struct{}
}

func colKey(tenant, name string) string { return tenant + "\x00" + name }

// Open opens (creating if needed) the data directory dir: it takes the
// directory lock, opens the catalog, finishes any create or drop that a
// crash interrupted, and recovers every collection from its newest valid
// snapshot plus the log after it.
func Open(dir string, cfg Config) (*DB, error) {
	cfg = cfg.withDefaults()
	// The data directory holds the catalog and the lock on the real
	// filesystem whatever cfg.FS is; collections live in cfg.FS.
	if err := wal.MkdirAllDurable(wal.OSFS{}, dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	lock, err := dirlock.Acquire(dir)
	if err != nil {
		return nil, err
	}
	db := &DB{dir: dir, cfg: cfg, log: cfg.Logger, lock: lock, cols: make(map[string]*Handle), busy: make(map[string]chan struct{}), resKick: make(chan struct{}, 1)}
	db.bgCtx, db.bgStop = context.WithCancel(context.Background())
	if cfg.Tier != nil && cfg.Tier.MemoryBudget > 0 {
		db.loadSlot = make(chan struct{}, 1)
	}
	ok := false
	defer func() {
		if !ok {
			db.bgStop()
			db.bg.Wait()
			if db.tier != nil {
				db.tier.Close()
			}
			db.closeAll()
		}
	}()
	ctx := context.Background()
	if db.meta, err = meta.Open(ctx, filepath.Join(dir, meta.FileName), cfg.Logger); err != nil {
		return nil, err
	}
	if err := wal.MkdirAllDurable(cfg.FS, db.collectionsDir(), 0o700); err != nil {
		return nil, err
	}
	if err := db.recoverCatalog(ctx); err != nil {
		return nil, err
	}
	rows, err := db.meta.ListCollections(ctx, "")
	if err != nil {
		return nil, err
	}
	if err := db.newTier(); err != nil {
		return nil, err
	}
	for _, row := range rows {
		h, err := db.newHandle(row)
		if err != nil {
			return nil, fmt.Errorf("open collection %s/%s (%s): %w", row.TenantID, row.Name, row.ID, err)
		}
		db.cols[colKey(row.TenantID, row.Name)] = h
	}
	if err := db.registerTiered(); err != nil {
		return nil, err
	}
	var later []*Handle
	for _, h := range db.cols {
		load, err := db.openState(h)
		if err != nil {
			return nil, fmt.Errorf("open collection %s/%s (%s): %w", h.info.TenantID, h.info.Name, h.info.ID, err)
		}
		if load {
			later = append(later, h)
		}
	}
	db.ckpt = newCheckpointer(db)
	if err := db.startTier(); err != nil {
		return nil, err
	}
	for _, h := range later {
		h.res.mu.Lock()
		h.startLoadLocked(db.now())
		h.res.mu.Unlock()
	}
	ok = true
	return db, nil
}

// openState brings a collection's state in at start: from its local copy
// now, as always; or, for a tiered collection, not at all while it is
// marked cold and a memory budget is set (the first request loads it), or
// in the background when its local copy lacks what only the store has
// (load reports that: the caller starts the load once the database is
// open, and requests wait for it or answer unavailable).
func (db *DB) openState(h *Handle) (load bool, err error) {
	cold, err := h.readCold()
	if err != nil {
		db.log.Warn("unreadable cold marker; loading the collection", "collection", h.info.Name, "err", err)
		cold = nil
	}
	if tiered(h.TierPolicy()) {
		need, _, err := db.needsStore(h)
		if err != nil {
			return false, err
		}
		if cold != nil {
			h.res.facts = *cold
		}
		if need {
			return true, nil
		}
		if cold != nil && db.memoryBudget() > 0 {
			h.res.lastUsed = db.now()
			return false, nil // evicted until asked for
		}
	}
	ld, err := db.recoverCollection(h)
	if err != nil {
		return false, err
	}
	if cold != nil {
		if err := h.clearCold(); err != nil {
			ld.discard()
			return false, err
		}
	}
	h.install(ld)
	return false, nil
}

func (db *DB) collectionsDir() string         { return filepath.Join(db.dir, "collections") }
func (db *DB) collectionDir(id string) string { return filepath.Join(db.collectionsDir(), id) }

// Dir is the data directory.
func (db *DB) Dir() string { return db.dir }

// Meta is the catalog, for packages that keep their own tables in it.
func (db *DB) Meta() *meta.Store { return db.meta }

// recoverCatalog finishes interrupted creates (rolled back) and drops
// (rolled forward). The create and drop protocols never leave a directory
// without a row, so a directory the catalog does not know was put there by
// something else: it is moved aside to lost+found, never deleted.
func (db *DB) recoverCatalog(ctx context.Context) error {
	pending, err := db.meta.ListCollectionsByState(ctx, meta.StateCreating, meta.StateDropping)
	if err != nil {
		return err
	}
	for _, row := range pending {
		if row.State == meta.StateCreating {
			if err := db.meta.MarkCollectionDropping(ctx, row.ID); err != nil {
				return err
			}
		}
		db.log.Warn("finishing an interrupted collection change", "collection", row.Name, "tenant", row.TenantID, "id", row.ID, "was", row.State)
		if err := db.removeDirDurably(db.collectionDir(row.ID)); err != nil {
			return err
		}
		if err := db.meta.DeleteCollection(ctx, row.ID); err != nil {
			return err
		}
	}
	known := map[string]bool{}
	rows, err := db.meta.ListCollections(ctx, "")
	if err != nil {
		return err
	}
	for _, r := range rows {
		known[r.ID] = true
	}
	names, err := db.cfg.FS.ReadDir(db.collectionsDir())
	if err != nil {
		return fmt.Errorf("list %s: %w", db.collectionsDir(), err)
	}
	for _, name := range names {
		if known[name] {
			continue
		}
		dst, err := moveToLostFound(db.cfg.FS, db.dir, db.collectionDir(name))
		if err != nil {
			return err
		}
		db.log.Warn("collection directory not in the catalog moved aside", "dir", name, "to", dst)
	}
	return nil
}

// moveToLostFound renames path into <dataDir>/lost+found/ and never
// deletes. Both directories' entries are fsynced, and lost+found's in the
// data directory when it is new.
func moveToLostFound(fsys wal.FS, dataDir, path string) (string, error) {
	lf := filepath.Join(dataDir, "lost+found")
	if err := wal.MkdirAllDurable(fsys, lf, 0o700); err != nil {
		return "", err
	}
	dst := filepath.Join(lf, fmt.Sprintf("%s.%d", filepath.Base(path), time.Now().UnixNano()))
	if err := fsys.Rename(path, dst); err != nil {
		return "", fmt.Errorf("move %s aside: %w", path, err)
	}
	if err := syncDir(fsys, filepath.Dir(path)); err != nil {
		return "", err
	}
	return dst, syncDir(fsys, lf)
}

// removeDirDurably removes a collection's directory and fsyncs its parent.
func (db *DB) removeDirDurably(path string) error {
	if err := wal.RemoveAll(db.cfg.FS, path); err != nil {
		return err
	}
	return syncDir(db.cfg.FS, filepath.Dir(path))
}

func syncDir(fsys wal.FS, dir string) error {
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// collectionSeed derives a collection's HNSW level seed from its id, so a
// graph is reproducible from its log.
func collectionSeed(id string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return int64(h.Sum64() >> 1)
}

func configFromRow(row meta.Collection) (CollectionConfig, error) {
	m, err := distance.ParseMetric(row.Metric)
	if err != nil {
		return CollectionConfig{}, err
	}
	return CollectionConfig{Name: row.Name, Dimension: row.Dimension, Metric: m, M: row.M, EfConstruction: row.EfConstruction, Seed: collectionSeed(row.ID)}.withDefaults()
}

// Collection returns the tenant's collection by name (ErrNotFound if it
// does not exist or belongs to another tenant).
func (db *DB) Collection(tenant, name string) (*Handle, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, ErrClosed
	}
	h, ok := db.cols[colKey(tenant, name)]
	if !ok {
		return nil, fmt.Errorf("collection %q: %w", name, ErrNotFound)
	}
	return h, nil
}

// ListCollections returns the tenant's collections sorted by name
// ("" lists every tenant's).
func (db *DB) ListCollections(tenant string) []CollectionInfo {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var out []CollectionInfo
	for _, h := range db.cols {
		if tenant == "" || h.info.TenantID == tenant {
			out = append(out, h.Info())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TenantID != out[j].TenantID {
			return out[i].TenantID < out[j].TenantID
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Checkpoint snapshots every collection that changed since its last
// snapshot and drops the log segments the snapshots make unnecessary.
func (db *DB) Checkpoint() error {
	db.mu.RLock()
	hs := make([]*Handle, 0, len(db.cols))
	for _, h := range db.cols {
		hs = append(hs, h)
	}
	db.mu.RUnlock()
	var errs []error
	for _, h := range hs {
		if err := h.Checkpoint(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close checkpoints every collection, closes the logs and the catalog and
// releases the directory lock.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.mu.Unlock()
	db.ddl.Wait()
	if db.ckpt != nil {
		db.ckpt.stop()
	}
	db.bgStop()
	db.bg.Wait()
	db.closeTier()
	return db.closeAll()
}

func (db *DB) closeAll() error {
	var errs []error
	for _, h := range db.cols {
		if err := h.close(true); err != nil {
			errs = append(errs, err)
		}
	}
	if db.meta != nil {
		if err := db.meta.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if db.lock != nil {
		if err := db.lock.Release(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// closeWithoutCheckpoint closes logs and catalog without the final
// checkpoint, leaving the directory as a crash after the last fsync would.
func (db *DB) closeWithoutCheckpoint() error {
	db.mu.Lock()
	db.closed = true
	db.mu.Unlock()
	db.ddl.Wait()
	if db.ckpt != nil {
		db.ckpt.stop()
	}
	db.bgStop()
	db.bg.Wait()
	if db.tier != nil {
		db.tier.Close()
	}
	for _, h := range db.cols {
		_ = h.close(false)
	}
	return db.closeAll()
}
