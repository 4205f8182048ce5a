package engine

// The local snapshot cache of s3-only collections. Their snapshots live in
// the object store; the local copies are a cache that may be deleted once
// the store's manifest lists them, bounded by TierConfig.CacheBytes. The
// log is not part of it: it keeps every acknowledged write until shipped
// (the tier's KeepLogFrom), and a load downloads the newest snapshot when
// the local one is gone (load.go).

import (
	"path/filepath"
	"sort"
	"time"

	"github.com/akidb/akidb/engine/snapshot"
)

// CacheReport says what one bounding of the cache did.
type CacheReport struct {
	// Limit is the bound (negative: none); Bytes the local snapshots of
	// s3-only collections after the run.
	Limit   int64
	Bytes   int64
	Deleted int
}

// cachedSnapshot is one local snapshot of an s3-only collection.
type cachedSnapshot struct {
	h        *Handle
	seq      uint64
	size     int64
	newest   bool // the collection's newest local snapshot
	lastUsed time.Time
}

func (db *DB) cachedSnapshots(hs []*Handle) []cachedSnapshot {
	var out []cachedSnapshot
	for _, h := range hs {
		if h.TierPolicy() != TierS3Only {
			continue
		}
		seqs, err := snapshot.List(db.cfg.FS, h.snapshotDir())
		if err != nil {
			continue
		}
		h.res.mu.Lock()
		used := h.res.lastUsed
		h.res.mu.Unlock()
		for i, seq := range seqs {
			fi, err := db.cfg.FS.Stat(filepath.Join(h.snapshotDir(), snapshot.FileName(seq)))
			if err != nil {
				continue
			}
			out = append(out, cachedSnapshot{h: h, seq: seq, size: fi.Size(), newest: i == 0, lastUsed: used})
		}
	}
	return out
}

// cacheBytes is the size of the s3-only collections' local snapshots.
func (db *DB) cacheBytes(hs []*Handle) int64 {
	var n int64
	for _, s := range db.cachedSnapshots(hs) {
		n += s.size
	}
	return n
}

// EnforceCacheOnce deletes local snapshots of s3-only collections that the
// store's manifest lists (or that are older than one it lists) until they fit in CacheBytes: first those older
// than their collection's newest, then the newest ones of the least
// recently used collections. A snapshot the store does not hold yet, one
// the tier still needs, and one being read by a load or written by a
// checkpoint are never deleted.
func (db *DB) EnforceCacheOnce() CacheReport {
	rep := CacheReport{Limit: -1}
	if db.tier == nil || db.cfg.Tier == nil {
		return rep
	}
	rep.Limit = db.cfg.Tier.CacheBytes
	files := db.cachedSnapshots(db.handles())
	for _, f := range files {
		rep.Bytes += f.size
	}
	if rep.Limit < 0 || rep.Bytes <= rep.Limit {
		return rep
	}
	sort.SliceStable(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if a.newest != b.newest {
			return !a.newest
		}
		if !a.lastUsed.Equal(b.lastUsed) {
			return a.lastUsed.Before(b.lastUsed)
		}
		return a.seq < b.seq
	})
	for _, f := range files {
		if rep.Bytes <= rep.Limit {
			break
		}
		// The store holds it, or a newer one (from which the local log
		// goes on), and the tier is not about to upload it.
		id := f.h.info.ID
		if f.seq > f.h.newestShippedSnapshot() || db.tier.HoldsSnapshot(id, f.seq) {
			continue
		}
		// A checkpoint (which writes and prunes snapshots) and a load
		// (which reads one) hold ckptMu: skip a collection that is busy.
		if !f.h.ckptMu.TryLock() {
			continue
		}
		err := db.cfg.FS.Remove(filepath.Join(f.h.snapshotDir(), snapshot.FileName(f.seq)))
		if err == nil {
			err = db.cfg.FS.SyncDir(f.h.snapshotDir())
		}
		f.h.coldDisk.invalidate()
		f.h.ckptMu.Unlock()
		if err != nil {
			db.log.Warn("removing a cached snapshot of an s3-only collection failed", "collection", f.h.info.Name, "seq", f.seq, "err", err)
			continue
		}
		rep.Bytes -= f.size
		rep.Deleted++
		db.log.Debug("cached snapshot of an s3-only collection removed; the store keeps it", "collection", f.h.info.Name, "seq", f.seq)
	}
	return rep
}
