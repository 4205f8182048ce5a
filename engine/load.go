package engine

// Loading a collection into memory on demand (residency.go has the states):
// from its local snapshot and log, or, for a tiered collection whose local
// copy is incomplete, from the object store first. One load runs at a time
// per collection and every request waiting for it shares it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/wal"
)

// Where a load read a collection's state from.
const (
	SourceLocal = "local"
	SourceStore = "store"
)

// tiered reports whether a policy ships the collection (and so lets it be
// evicted).
func tiered(policy string) bool { return policy == TierMemoryS3 || policy == TierS3Only }

// loaded is a collection's state as a load or an open recovered it, not
// yet installed in its Handle.
type loaded struct {
	c        *Collection
	log      *wal.Log
	replayed int
	source   string
}

// discard closes what a load opened and does not install: the log and
// the vectors file (originals on disk).
func (ld loaded) discard() {
	_ = ld.log.Close()
	_ = ld.c.closeVectors()
}

// install makes ld the handle's state: the collection is resident from
// now. The caller holds h.res.mu, or is the only one with h (open).
func (h *Handle) install(ld loaded) {
	// The quantization settings may have changed while the state was
	// loading (SetQuantization applies them to a resident collection
	// only); background quantization work starts now, on the state that
	// is kept.
	if err := ld.c.SetQuantization(h.quantization()); err != nil {
		h.db.log.Warn("applying the quantization settings to a loaded collection", "collection", h.info.Name, "err", err)
	}
	ld.c.resumeQuant()
	h.c, h.wal = ld.c, ld.log
	h.sinceRecords.Store(int64(ld.replayed))
	h.sinceBytes.Store(0)
	h.res.state = LoadResident
	h.res.source = ld.source
	h.res.lastUsed = h.db.now()
}

// startLoadLocked starts loading h in the background; the caller holds
// h.res.mu and waits on h.res.settled.
func (h *Handle) startLoadLocked(now time.Time) {
	r := &h.res
	r.state = LoadLoading
	h.coldDisk.invalidate() // the load writes files
	r.settled = make(chan struct{})
	r.loadStart = now
	ctx, cancel := context.WithCancel(h.db.bgCtx)
	r.cancelLoad = cancel
	h.db.bg.Add(1)
	go h.db.runLoad(ctx, h)
}

// runLoad loads h, installs the state (or marks h unavailable) and wakes
// the requests waiting for it.
func (db *DB) runLoad(ctx context.Context, h *Handle) {
	defer db.bg.Done()
	start := time.Now()
	// Under a memory budget loads run one at a time, so that at most one
	// collection's state is coming in beyond what the budget made room
	// for (concurrent loads of several cold collections would each count
	// the room the others are about to fill).
	if db.loadSlot != nil {
		select {
		case db.loadSlot <- struct{}{}:
			defer func() { <-db.loadSlot }()
		case <-ctx.Done():
		}
	}
	// Room first, so the budget holds while the state comes in.
	db.makeRoom(ctx, h)
	h.ckptMu.Lock() // the snapshot cache must not delete what is being read
	ld, err := db.loadState(ctx, h)
	h.ckptMu.Unlock()
	took := time.Since(start)
	if ro, ok := db.cfg.Observer.(ResidencyObserver); ok {
		src := ld.source
		if src == "" {
			src = SourceLocal
		}
		ro.CollectionLoaded(src, took, err)
	}
	r := &h.res
	r.mu.Lock()
	now := db.now()
	switch {
	case r.closed:
		if err == nil {
			ld.discard()
		}
	case err != nil:
		r.state = LoadUnavailable
		r.reason = err.Error()
		r.failures++
		r.retryAt = now.Add(min(loadRetryMax, loadRetryBase<<min(r.failures-1, 10)))
		db.log.Error("collection could not be loaded; requests answer unavailable until it can", "collection", h.info.Name, "tenant", h.info.TenantID,
			"retry_at", r.retryAt, "err", err)
	default:
		h.install(ld)
		r.reason, r.failures, r.retryAt = "", 0, time.Time{}
		r.loads++
		r.loadedAt, r.lastLoad = now, took
		r.lastUsed = now
		db.log.Info("collection loaded", "collection", h.info.Name, "tenant", h.info.TenantID, "source", ld.source, "records", ld.c.Count(), "duration", took)
	}
	close(r.settled)
	r.settled = nil
	r.cancelLoad()
	r.cancelLoad = nil
	r.mu.Unlock()
	db.kickResidency() // it may be over budget now
}

// loadState reads h's state: from the store first when the local copy is
// incomplete, then the newest snapshot and the log after it. It clears
// the collection's cold marker before the state can take a write.
func (db *DB) loadState(ctx context.Context, h *Handle) (loaded, error) {
	ld := loaded{source: SourceLocal}
	if err := removeLoadLeftovers(h); err != nil {
		return ld, err
	}
	need, whole, err := db.needsStore(h)
	if err != nil {
		return ld, err
	}
	if need {
		ld.source = SourceStore
		if err := db.fetchFromStore(ctx, h, whole); err != nil {
			return ld, err
		}
	}
	rec, err := db.recoverCollection(h)
	if err != nil {
		return ld, err
	}
	db.cfg.crashAt("load:opened")
	if err := h.clearCold(); err != nil {
		rec.discard()
		return ld, err
	}
	db.cfg.crashAt("load:cleared")
	ld.c, ld.log, ld.replayed = rec.c, rec.log, rec.replayed
	return ld, nil
}

// fetchDir is where a load from the store builds a collection's log
// before renaming it into place; downloadSuffix ends a download in
// progress (restore.go's downloadFile).
const (
	fetchDir       = "wal.fetch"
	downloadSuffix = ".download"
)

// removeLoadLeftovers removes what a load from the store that a crash
// interrupted left: a half-built log, half-downloaded snapshots.
func removeLoadLeftovers(h *Handle) error {
	if err := os.RemoveAll(filepath.Join(h.dir, fetchDir)); err != nil {
		return fmt.Errorf("remove an unfinished load of %s: %w", h.info.Name, err)
	}
	names, err := os.ReadDir(h.snapshotDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasSuffix(n.Name(), downloadSuffix) {
			if err := os.Remove(filepath.Join(h.snapshotDir(), n.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// needsStore reports whether a tiered collection's local copy is missing
// something only the store has: its log (whole: the local copy is gone,
// rebuild it from the store's snapshot and log objects), or a snapshot
// newer than every local one (an s3-only collection's local snapshot is
// only a cache).
func (db *DB) needsStore(h *Handle) (need, whole bool, err error) {
	if !tiered(h.TierPolicy()) {
		return false, false, nil
	}
	if _, err := os.Stat(h.walDir()); errors.Is(err, fs.ErrNotExist) {
		return true, true, nil
	} else if err != nil {
		return false, false, err
	}
	local, err := snapshot.List(db.cfg.FS, h.snapshotDir())
	if err != nil {
		return false, false, err
	}
	var newestLocal uint64
	if len(local) > 0 {
		newestLocal = local[0]
	}
	return h.newestShippedSnapshot() > newestLocal, false, nil
}

// newestShippedSnapshot is the newest snapshot in the collection's
// manifest: as the tier last saw it, or, without a tier, as the local
// copy of the manifest says.
func (h *Handle) newestShippedSnapshot() uint64 {
	if t := h.db.tier; t != nil && t.Registered(h.info.ID) {
		s := t.ShippedSnapshots(h.info.ID)
		if len(s) == 0 {
			return 0
		}
		return s[len(s)-1]
	}
	m, err := readManifestCopy(h.dir, h.info.ID)
	if err != nil || m == nil {
		return 0
	}
	return m.NewestSnapshot()
}

// fetchFromStore brings what the local copy lacks from the store: the
// newest snapshot, and with whole the log objects after it too, written
// as the collection's log (built aside and renamed into place, so a crash
// leaves either no log or a whole one). Every object's SHA-256 is checked.
func (db *DB) fetchFromStore(ctx context.Context, h *Handle, whole bool) error {
	if db.tier == nil || !db.tier.Registered(h.info.ID) {
		return fmt.Errorf("the local copy of %s is incomplete (its state is in the object store) and no object store is configured", h.info.Name)
	}
	m, err := db.tier.Manifest(ctx, h.info.ID)
	if err != nil {
		return fmt.Errorf("load %s from the object store: %w", h.info.Name, err)
	}
	id := h.info.ID
	fetch := func(ctx context.Context, o tier.Object, w io.Writer) error { return db.tier.Fetch(ctx, id, o, w) }
	// The object store's files are on the real filesystem (downloadFile);
	// a new snapshots/ is fsynced in its parent like every other mkdir.
	if err := wal.MkdirAllDurable(wal.OSFS{}, h.snapshotDir(), 0o700); err != nil {
		return err
	}
	if !whole {
		n := len(m.Snapshots)
		if n == 0 {
			return fmt.Errorf("load %s: the manifest lists no snapshot", h.info.Name)
		}
		o := m.Snapshots[n-1]
		return downloadFile(ctx, fetch, o, filepath.Join(h.snapshotDir(), snapshot.FileName(o.LastSeq)))
	}
	plan, err := m.Plan(0)
	if err != nil {
		return fmt.Errorf("load %s from the object store: %w", h.info.Name, err)
	}
	if cold, _ := h.readCold(); cold != nil && cold.AppliedSeq > plan.ToSeq {
		db.log.Error("the local copy of an evicted collection is gone and the store holds less than it had: writes after the store's are lost",
			"collection", h.info.Name, "had", cold.AppliedSeq, "store_has", plan.ToSeq)
	}
	var base uint64
	if s := plan.Snapshot; s != nil {
		base = s.LastSeq
	}
	db.log.Warn("the local copy of a collection is gone; rebuilding it from the object store", "collection", h.info.Name, "tenant", h.info.TenantID,
		"snapshot_seq", base, "to_seq", plan.ToSeq)
	if s := plan.Snapshot; s != nil {
		if err := downloadFile(ctx, fetch, *s, filepath.Join(h.snapshotDir(), snapshot.FileName(base))); err != nil {
			return err
		}
	}
	tmp := filepath.Join(h.dir, fetchDir)
	log, err := wal.Open(tmp, wal.Options{FS: db.cfg.FS, Logger: db.log, SegmentSize: db.cfg.SegmentSize, Sync: wal.SyncNone, FirstSeq: base + 1})
	if err != nil {
		return err
	}
	var res RestoreResult
	err = replayShippedLog(ctx, log, filepath.Join(h.dir, "fetch.chunk.tmp"), fetch, plan, base, &res)
	if serr := log.Sync(); err == nil {
		err = serr
	}
	if cerr := log.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("load %s from the object store: %w", h.info.Name, err)
	}
	if err := os.Rename(tmp, h.walDir()); err != nil {
		return err
	}
	if err := syncDir(wal.OSFS{}, h.dir); err != nil {
		return err
	}
	// The tier's files (staging, its copy of the manifest) went with the
	// local copy: register again, so the shipper starts from the store's
	// manifest with its directories in place.
	return db.syncTierRegistration(h)
}

// The cold marker: a file in the collection's directory, written when the
// collection leaves memory (evicted, or closed with a memory budget set)
// and removed by the load that brings it back before the state takes a
// write. While it is there the local copy (or the store, for what the
// local copy lacks) holds exactly the state it describes, so the next
// start may leave the collection out of memory with these facts instead
// of loading it. Without it (a crash while resident) the next start loads
// the collection and recovers as always.
const coldFile = "cold.json"

type coldFacts struct {
	AppliedSeq  uint64    `json:"applied_seq"`
	Count       int       `json:"count"`
	Deleted     int       `json:"deleted"`
	MemoryBytes int64     `json:"memory_bytes"`
	At          time.Time `json:"at"`
}

func (h *Handle) coldPath() string { return filepath.Join(h.dir, coldFile) }

// readCold returns the marker (nil if there is none).
func (h *Handle) readCold() (*Facts, error) {
	b, err := os.ReadFile(h.coldPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cf coldFacts
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("%s: %w", h.coldPath(), err)
	}
	return &Facts{Count: cf.Count, Deleted: cf.Deleted, MemoryBytes: cf.MemoryBytes, AppliedSeq: cf.AppliedSeq}, nil
}

// writeCold writes the marker durably (temp, fsync, rename, dir fsync).
func (h *Handle) writeCold(f Facts, at time.Time) error {
	b, err := json.Marshal(coldFacts{AppliedSeq: f.AppliedSeq, Count: f.Count, Deleted: f.Deleted, MemoryBytes: f.MemoryBytes, At: at.UTC()})
	if err != nil {
		return err
	}
	tmp := h.coldPath() + ".tmp"
	fh, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = fh.Write(b)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, h.coldPath())
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", h.coldPath(), err)
	}
	return syncDir(wal.OSFS{}, h.dir)
}

// clearCold removes the marker durably (nothing to do without one).
func (h *Handle) clearCold() error {
	err := os.Remove(h.coldPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", h.coldPath(), err)
	}
	return syncDir(wal.OSFS{}, h.dir)
}
