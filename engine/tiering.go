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
}

// ValidateTierPolicy checks a tiering policy for a new or changed
// collection: memory, or memory-s3 when an object store is configured.
// s3-only (collections evicted to the store) is not built yet.
func (db *DB) ValidateTierPolicy(p string) error {
	switch p {
	case TierMemory:
		return nil
	case TierMemoryS3:
		if db.tier == nil {
			return invalid("tier_policy", "memory-s3 needs an object store: start the server with --s3-endpoint and --s3-bucket")
		}
		return nil
	case TierS3Only:
		return invalid("tier_policy", "s3-only is not available yet; use memory or memory-s3")
	}
	return invalid("tier_policy", "%q is not memory or memory-s3", p)
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

// openTier starts the tier and registers the memory-s3 collections.
func (db *DB) openTier() error {
	tc := db.cfg.Tier
	if tc == nil {
		if err := db.ValidateTierPolicy(db.DefaultTierPolicy()); err != nil {
			return fmt.Errorf("default tier policy: %w", err)
		}
		for _, h := range db.cols {
			if h.TierPolicy() == TierMemoryS3 {
				db.log.Warn("collection has the memory-s3 policy but no object store is configured: it is not shipped", "collection", h.info.Name, "tenant", h.info.TenantID)
			}
		}
		return nil
	}
	cfg := tc.Tier
	cfg.Meta = db.meta
	if cfg.Logger == nil {
		cfg.Logger = db.log
	}
	t, err := tier.New(cfg)
	if err != nil {
		return err
	}
	db.tier = t
	for _, h := range db.cols {
		if err := db.syncTierRegistration(h); err != nil {
			return err
		}
	}
	if err := db.ValidateTierPolicy(db.DefaultTierPolicy()); err != nil {
		return fmt.Errorf("default tier policy: %w", err)
	}
	if !tc.NoBackground {
		t.Start()
	}
	return nil
}

// syncTierRegistration registers h with the tier or unregisters it, per
// its policy.
func (db *DB) syncTierRegistration(h *Handle) error {
	if db.tier == nil {
		return nil
	}
	if h.TierPolicy() != TierMemoryS3 {
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

// SetTierPolicy changes a collection's tiering policy. Switching to
// memory-s3 ships the collection from the next pass (from its next
// snapshot if its log no longer starts at the beginning); switching back
// to memory stops shipping and leaves what was shipped in the store.
func (db *DB) SetTierPolicy(ctx context.Context, tenant, name, policy string) (CollectionInfo, error) {
	if err := db.ValidateTierPolicy(policy); err != nil {
		return CollectionInfo{}, err
	}
	// Shared with other readers, exclusive of a drop: a collection being
	// dropped is never registered again.
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return CollectionInfo{}, ErrClosed
	}
	h, ok := db.cols[colKey(tenant, name)]
	if !ok {
		return CollectionInfo{}, fmt.Errorf("collection %q: %w", name, ErrNotFound)
	}
	h.policyMu.Lock()
	defer h.policyMu.Unlock()
	if err := db.meta.SetCollectionTierPolicy(ctx, h.info.ID, policy); err != nil {
		return CollectionInfo{}, translateMetaErr(err)
	}
	h.tierPolicy.Store(policy)
	if err := db.syncTierRegistration(h); err != nil {
		return h.Info(), err
	}
	return h.Info(), nil
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
	if h.db.tier == nil || tc == nil || tc.Parquet == nil || h.TierPolicy() != TierMemoryS3 {
		return nil
	}
	return h.label(h.c.viewGated())
}

// writeParquet writes the checkpoint's Parquet export into the tier's
// staging directory (temp file, then rename), after the snapshot and
// outside the write pause. A failure costs the export, never the
// checkpoint: it is logged and the snapshot ships without it.
func (h *Handle) writeParquet(v *RecordView, seq uint64) {
	if v == nil {
		return
	}
	dir := tier.StagingDir(h.dir)
	final := filepath.Join(dir, tier.ParquetFileName(seq))
	tmp := final + ".tmp"
	err := func() error {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		err = h.db.cfg.Tier.Parquet(context.Background(), bw, v)
		if err == nil {
			err = bw.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, final)
		}
		return err
	}()
	if err != nil {
		_ = os.Remove(tmp)
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
			if h.TierPolicy() == TierMemoryS3 && h.wal.Err() == nil {
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

func (s *tierSource) Dir() string     { return s.h.dir }
func (s *tierSource) LastSeq() uint64 { return s.h.wal.LastSeq() }

// SyncedSeq: under fsync=always every acknowledged record is fsynced;
// otherwise the log is fsynced first, so that nothing reaches the store
// that a power cut could take from the local disk.
func (s *tierSource) SyncedSeq() (uint64, error) {
	seq := s.h.wal.LastSeq()
	if s.h.db.cfg.Sync != wal.SyncAlways {
		if err := s.h.wal.Sync(); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

func (s *tierSource) LogFirstSeq() uint64 { return s.h.wal.FirstSeq() }

var errStopReading = errors.New("stop reading the log")

func (s *tierSource) ReadLog(from, to uint64, fn func(uint64, byte, []byte) error) error {
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

// registerWithTier starts shipping a new memory-s3 collection. A failure
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
