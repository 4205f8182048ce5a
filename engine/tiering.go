package engine

// The engine's side of the object storage tier (engine/tier): the
// collection's tiering policy, the Source the shipper reads a collection
// through, and the hooks that keep a snapshot or log segment on disk until
// its upload is confirmed. Uploads never run here: the checkpoint only
// kicks the tier's own workers once its snapshot is written.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/wal"
)

// The tiering policies.
const (
	TierMemory   = meta.TierMemory
	TierMemoryS3 = meta.TierMemoryS3
	TierS3Only   = meta.TierS3Only
)

// TierConfig turns the object storage tier on: collections with the
// memory-s3 policy are shipped to Tier.Store. Tier.Meta is the DB's own
// catalog (set by Open); Tier.Logger defaults to the DB's.
type TierConfig struct {
	Tier tier.Config
	// NoBackground leaves the ship loop and the retry worker stopped: the
	// caller drives Tier().ShipOnce and Tier().DLQ().RunOnce (tests).
	NoBackground bool
	// ShutdownShipTimeout bounds the last ship pass Close makes after the
	// final checkpoints (default 10s; negative: none).
	ShutdownShipTimeout time.Duration
	// Parquet, if set, writes a view's records as Parquet to w (serve
	// passes the export package's WriteParquet: it imports this package,
	// and Parquet's codecs bring net/http, so the engine takes it as a
	// function). Every checkpoint of a memory-s3
	// collection then also writes its records, as of the snapshot's
	// sequence number, into the tier's staging directory, and the shipper
	// uploads that file after the snapshot (kind parquet).
	Parquet func(ctx context.Context, w io.Writer, v *RecordView) error

	// MemoryBudget bounds the memory of the collections in memory, in
	// bytes (the sum of their memory_bytes): while it is exceeded, the
	// least recently used memory-s3 and s3-only collections idle for at
	// least EvictAfter are checkpointed, their upload confirmed, and
	// dropped from memory (evict.go). 0: no budget, nothing is evicted.
	MemoryBudget int64
	// EvictAfter is how long a collection must go unused before the
	// budget may evict it (default 30 minutes).
	EvictAfter time.Duration
	// CacheBytes bounds the local snapshots of s3-only collections
	// (cache.go): past it, snapshots the store holds are deleted, oldest
	// and least recently used first. 0 keeps none once the store has it;
	// negative: no bound.
	CacheBytes int64
	// RoomWait bounds how long a load over the budget waits for a
	// collection in memory to become idle enough to evict (default 5s;
	// negative: it does not wait, and loads over the budget).
	RoomWait time.Duration
	// ResidencyInterval is how often the residency loop checks the budget,
	// retries unavailable collections and bounds the cache (default 1s).
	ResidencyInterval time.Duration
	// ReleaseMemory, if set, is called after evictions, to hand the memory
	// they freed back to the operating system (serve passes
	// debug.FreeOSMemory; the engine keeps off process-wide settings).
	ReleaseMemory func()
}

// DefaultEvictAfter is TierConfig.EvictAfter's default.
const DefaultEvictAfter = 30 * time.Minute

func (tc *TierConfig) validate() error {
	switch {
	case tc.MemoryBudget < 0:
		return fmt.Errorf("tier memory budget %d: must not be negative (0: none)", tc.MemoryBudget)
	case tc.EvictAfter < 0:
		return fmt.Errorf("tier evict-after %v: must not be negative", tc.EvictAfter)
	case tc.ResidencyInterval < 0:
		return fmt.Errorf("tier residency interval %v: must not be negative", tc.ResidencyInterval)
	}
	return nil
}

// ValidateTierPolicy checks a tiering policy for a new or changed
// collection: memory, or memory-s3 or s3-only when an object store is
// configured.
func (db *DB) ValidateTierPolicy(p string) error {
	switch p {
	case TierMemory:
		return nil
	case TierMemoryS3, TierS3Only:
		if db.tier == nil {
			return invalid("tier_policy", "%s needs an object store: start the server with --s3-endpoint and --s3-bucket", p)
		}
		return nil
	}
	return invalid("tier_policy", "%q is not memory, memory-s3 or s3-only", p)
}

// DefaultTierPolicy is the policy of collections created without one.
func (db *DB) DefaultTierPolicy() string {
	if db.cfg.DefaultTierPolicy == "" {
		return TierMemory
	}
	return db.cfg.DefaultTierPolicy
}

// Tier is the object storage tier, or nil when none is configured.
func (db *DB) Tier() *tier.Tier { return db.tier }

// newTier makes the tier (nil without one), before the collections are
// opened: a collection whose local copy is incomplete is loaded from its
// store.
func (db *DB) newTier() error {
	tc := db.cfg.Tier
	if tc == nil {
		return nil
	}
	if err := tc.validate(); err != nil {
		return err
	}
	cfg := tc.Tier
	cfg.Meta = db.meta
	if cfg.Logger == nil {
		cfg.Logger = db.log
	}
	if cfg.FS == nil {
		// The tier's files live in the collections' directories: the
		// same filesystem, synced the same way.
		cfg.FS = db.cfg.FS
	}
	t, err := tier.New(cfg)
	if err != nil {
		return err
	}
	db.tier = t
	return nil
}

// registerTiered registers the memory-s3 and s3-only collections with the
// tier (or, without one, warns that they are not shipped).
func (db *DB) registerTiered() error {
	if db.tier == nil {
		for _, h := range db.cols {
			if tiered(h.TierPolicy()) {
				db.log.Warn("collection has the "+h.TierPolicy()+" policy but no object store is configured: it is not shipped", "collection", h.info.Name, "tenant", h.info.TenantID)
			}
		}
		return nil
	}
	for _, h := range db.cols {
		if err := db.syncTierRegistration(h); err != nil {
			return err
		}
	}
	return nil
}

// startTier checks the default policy and starts the tier's loops and the
// residency loop (evict.go).
func (db *DB) startTier() error {
	if err := db.ValidateTierPolicy(db.DefaultTierPolicy()); err != nil {
		return fmt.Errorf("default tier policy: %w", err)
	}
	if db.tier != nil && !db.cfg.Tier.NoBackground {
		db.tier.Start()
		db.startResidency()
	}
	return nil
}

// syncTierRegistration registers h with the tier or unregisters it, per
// its policy.
func (db *DB) syncTierRegistration(h *Handle) error {
	if db.tier == nil {
		return nil
	}
	if !tiered(h.TierPolicy()) {
		db.tier.Unregister(h.info.ID)
		return nil
	}
	name, err := db.tenantName(h.info.TenantID)
	if err != nil {
		return err
	}
	return db.tier.Register(&tierSource{h: h, tenantName: name})
}

func (db *DB) tenantName(id string) (string, error) {
	t, err := db.meta.GetTenant(context.Background(), id)
	if err != nil {
		return "", fmt.Errorf("tenant %s: %w", id, err)
	}
	return t.Name, nil
}

// SetTierPolicy changes a collection's tiering policy, online. Switching to
// memory-s3 or s3-only ships the collection from the next pass (from its
// next snapshot if its log no longer starts at the beginning); switching
// between them changes what may leave memory and the local disk
// (docs/tiering.md); switching back to memory stops shipping and leaves
// what was shipped in the store. A memory collection is never evicted and
// never reads the store, so switching to memory first loads the collection
// (waiting up to ctx) and writes a local snapshot of its whole state, and
// only then changes the catalog: a crash at any step leaves a collection
// the next start opens under one policy or the other with nothing lost.
func (db *DB) SetTierPolicy(ctx context.Context, tenant, name, policy string) (CollectionInfo, error) {
	if err := db.ValidateTierPolicy(policy); err != nil {
		return CollectionInfo{}, err
	}
	h, err := db.Collection(tenant, name)
	if err != nil {
		return CollectionInfo{}, err
	}
	h.policyMu.Lock()
	defer h.policyMu.Unlock()
	if err := checkOriginalsPolicy(h.quantization(), policy); err != nil {
		return CollectionInfo{}, err
	}
	if policy == TierMemory && tiered(h.TierPolicy()) {
		// Loading may take long: not under db.mu (a load's room-making
		// reads the collections, and a create or drop waiting for the
		// lock would block it).
		if err := h.pin(ctx); err != nil {
			return CollectionInfo{}, err
		}
		defer h.unpin()
		if err := h.checkpointLocal(); err != nil {
			return CollectionInfo{}, fmt.Errorf("switch %s to memory: %w", name, err)
		}
		db.cfg.crashAt("policy:checkpointed")
	}
	// Shared with other readers, exclusive of a drop: a collection being
	// dropped is never registered again.
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return CollectionInfo{}, ErrClosed
	}
	if db.cols[colKey(tenant, name)] != h {
		return CollectionInfo{}, fmt.Errorf("collection %q: %w", name, ErrNotFound)
	}
	if err := db.meta.SetCollectionTierPolicy(ctx, h.info.ID, policy); err != nil {
		return CollectionInfo{}, translateMetaErr(err)
	}
	db.cfg.crashAt("policy:catalog")
	h.tierPolicy.Store(policy)
	if policy == TierMemory {
		if err := h.clearCold(); err != nil {
			db.log.Warn("removing the cold marker of a collection switched to memory", "collection", name, "err", err)
		}
	}
	if err := db.syncTierRegistration(h); err != nil {
		return h.Info(), err
	}
	return h.Info(), nil
}

// checkpointLocal makes sure a local snapshot holds the collection's whole
// state (an s3-only collection's may have been left to the store). The
// caller holds a pin.
func (h *Handle) checkpointLocal() error {
	if err := h.checkpointNow(true); err != nil {
		return err
	}
	seqs, err := h.Snapshots()
	if err != nil {
		return err
	}
	if applied := h.c.appliedSeq(); len(seqs) == 0 || seqs[0] != applied {
		if applied == 0 {
			return nil // empty: nothing to keep
		}
		return fmt.Errorf("no local snapshot at %d after a checkpoint", applied)
	}
	return nil
}

// TierPolicy is the collection's tiering policy.
func (h *Handle) TierPolicy() string {
	if p, ok := h.tierPolicy.Load().(string); ok {
		return p
	}
	return TierMemory
}

// keepLogFrom is the lowest log sequence number the tier still needs
// locally (0: none).
func (h *Handle) keepLogFrom() uint64 {
	if h.db.tier == nil {
		return 0
	}
	return h.db.tier.KeepLogFrom(h.info.ID)
}

// tierHoldsSnapshot reports whether the tier still needs the snapshot file.
func (h *Handle) tierHoldsSnapshot(seq uint64) bool {
	return h.db.tier != nil && h.db.tier.HoldsSnapshot(h.info.ID, seq)
}

// tierCheckpointed tells the tier a snapshot was written (it only wakes
// its ship loop).
func (h *Handle) tierCheckpointed() {
	if h.db.tier != nil && h.db.tier.Registered(h.info.ID) {
		h.db.tier.Kick()
	}
}

// parquetView returns the view a checkpoint exports as Parquet (nil when
// it exports none). The caller holds the write gate exclusively, so the
// view is at the snapshot's sequence number; taking it copies the id and
// metadata tables only.
func (h *Handle) parquetView() *RecordView {
	tc := h.db.cfg.Tier
	if h.db.tier == nil || tc == nil || tc.Parquet == nil || !tiered(h.TierPolicy()) {
		return nil
	}
	return h.label(h.c.viewGated())
}

// writeParquet writes the checkpoint's Parquet export into the tier's
// staging directory (temp file, fsync, rename, directory fsync; the
// directory made durable in its parent), after the snapshot and outside
// the write pause: once the file has its name it is whole, so the tier
// never stages, and a DLQ entry never refers to, an export a power cut
// emptied or cut short. A failure costs the export, never the checkpoint:
// it is logged and the snapshot ships without it.
func (h *Handle) writeParquet(v *RecordView, seq uint64) {
	if v == nil {
		return
	}
	dir := tier.StagingDir(h.dir)
	final := filepath.Join(dir, tier.ParquetFileName(seq))
	tmp := final + ".tmp"
	fsys := h.db.tier.Config().FS
	err := func() error {
		if err := wal.MkdirAllDurable(fsys, dir, 0o700); err != nil {
			return err
		}
		f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(tier.NewFileWriter(f), 1<<20)
		err = h.db.cfg.Tier.Parquet(context.Background(), bw, v)
		if err == nil {
			err = bw.Flush()
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = fsys.Rename(tmp, final)
		}
		if err == nil {
			err = syncDir(fsys, dir)
		}
		return err
	}()
	if err != nil {
		_ = fsys.Remove(tmp)
		h.db.log.Warn("the checkpoint's Parquet export failed; its snapshot ships without it", "collection", h.info.Name, "seq", seq, "err", err)
	}
}

// closeTier runs a bounded last ship pass (after the final checkpoints)
// and stops the tier.
func (db *DB) closeTier() {
	if db.tier == nil {
		return
	}
	d := db.cfg.Tier.ShutdownShipTimeout
	if d == 0 {
		d = 10 * time.Second
	}
	if d > 0 && db.tier.Breaker().State() == tier.BreakerClosed {
		for _, h := range db.cols {
			if tiered(h.TierPolicy()) && h.logHealthy() {
				_ = h.Checkpoint()
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		if err := db.tier.ShipOnce(ctx); err != nil {
			db.log.Warn("last ship pass before closing did not finish; the next start ships the rest", "err", err)
		}
		cancel()
	}
	db.tier.Close()
}

// tierSource is a collection as the shipper reads it.
type tierSource struct {
	h          *Handle
	tenantName string
}

var _ tier.Source = (*tierSource)(nil)

func (s *tierSource) Info() tier.CollectionInfo {
	i := s.h.info
	return tier.CollectionInfo{ID: i.ID, TenantID: i.TenantID, TenantName: s.tenantName, Name: i.Name, Dimension: i.Config.Dimension,
		Metric: i.Config.Metric.String(), M: i.Config.M, EfConstruction: i.Config.EfConstruction, Seed: i.Config.Seed,
		Policy: s.h.TierPolicy(), CreatedAt: i.CreatedAt}
}

// Settings reads the quantization and the payload indexes as the catalog
// has them now (an index being built is listed: a restore builds it).
func (s *tierSource) Settings() (tier.Settings, error) {
	var out tier.Settings
	if q := s.h.quantization(); q.Type == QuantInt8 {
		out.Quantization = &tier.Quantization{Type: q.Type, Ranges: q.Ranges}
	}
	rows, err := s.h.db.meta.ListPayloadIndexes(context.Background(), s.h.info.ID)
	if err != nil {
		return out, fmt.Errorf("payload indexes of %s: %w", s.h.info.Name, err)
	}
	for _, r := range rows {
		out.PayloadIndexes = append(out.PayloadIndexes, tier.PayloadIndex{Field: r.Field, Type: r.Type})
	}
	slices.SortFunc(out.PayloadIndexes, func(a, b tier.PayloadIndex) int { return strings.Compare(a.Field, b.Field) })
	return out, nil
}

func (s *tierSource) Dir() string { return s.h.dir }

// A collection out of memory has its log closed and everything in it
// shipped (an eviction waits for that): the log's figures are then its
// facts, and there is nothing to read.

func (s *tierSource) LastSeq() uint64 {
	if !s.h.hold() {
		return s.h.Facts().AppliedSeq
	}
	defer s.h.unpin()
	return s.h.wal.LastSeq()
}

// SyncedSeq: under fsync=always every acknowledged record is fsynced;
// otherwise the log is fsynced first, so that nothing reaches the store
// that a power cut could take from the local disk.
func (s *tierSource) SyncedSeq() (uint64, error) {
	if !s.h.hold() {
		return s.h.Facts().AppliedSeq, nil
	}
	defer s.h.unpin()
	seq := s.h.wal.LastSeq()
	if s.h.db.cfg.Sync != wal.SyncAlways {
		if err := s.h.wal.Sync(); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

func (s *tierSource) LogFirstSeq() uint64 {
	if !s.h.hold() {
		return s.h.Facts().AppliedSeq + 1
	}
	defer s.h.unpin()
	return s.h.wal.FirstSeq()
}

var errStopReading = errors.New("stop reading the log")

func (s *tierSource) ReadLog(from, to uint64, fn func(uint64, byte, []byte) error) error {
	if !s.h.hold() {
		return nil
	}
	defer s.h.unpin()
	err := s.h.wal.Replay(from, func(seq uint64, typ byte, payload []byte) error {
		if seq > to {
			return errStopReading
		}
		return fn(seq, typ, payload)
	})
	if errors.Is(err, errStopReading) {
		return nil
	}
	return err
}

func (s *tierSource) Snapshots() ([]uint64, error) {
	return snapshot.List(s.h.db.cfg.FS, s.h.snapshotDir())
}

func (s *tierSource) SnapshotPath(seq uint64) string {
	return filepath.Join(s.h.snapshotDir(), snapshot.FileName(seq))
}

func (s *tierSource) RequestCheckpoint() {
	if s.h.ckptQueued.CompareAndSwap(false, true) {
		s.h.db.ckpt.request(s.h)
	}
}

// newCollectionPolicy resolves and checks a new collection's policy.
func (db *DB) newCollectionPolicy(p string) (string, error) {
	if p == "" {
		p = db.DefaultTierPolicy()
	}
	return p, db.ValidateTierPolicy(p)
}

// logHealthy reports whether the collection is in memory with a log that
// has not failed.
func (h *Handle) logHealthy() bool {
	if !h.hold() {
		return false
	}
	defer h.unpin()
	return h.wal.Err() == nil
}

// registerWithTier starts shipping a new memory-s3 or s3-only collection. A failure
// (its tier directory cannot be made) is logged: the collection exists
// and serves; the next start registers it again.
func (db *DB) registerWithTier(h *Handle) {
	if err := db.syncTierRegistration(h); err != nil {
		db.log.Error("collection is not shipped to object storage", "collection", h.info.Name, "err", err)
	}
}

// unregisterFromTier stops shipping a collection being dropped; its
// objects in the store stay (docs/tiering.md).
func (db *DB) unregisterFromTier(h *Handle) {
	if db.tier != nil {
		db.tier.Unregister(h.info.ID)
	}
}

// Snapshots lists the collection's local snapshots, newest first.
func (h *Handle) Snapshots() ([]uint64, error) {
	return snapshot.List(h.db.cfg.FS, h.snapshotDir())
}
