package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/vecfile"
)

// A durable collection's quantization settings and vectors files.

func quantizationFromMeta(q meta.Quantization) (Quantization, error) {
	return Quantization{Type: q.Type, Originals: q.Originals, Ranges: q.Ranges}.withDefaults()
}

// SetQuantization changes a collection's quantization settings: they are
// stored in the catalog first (so a restart goes on with them), then a
// collection in memory re-encodes in the background (its info reports the
// work); an evicted one takes them when it is next loaded. Searches and
// writes go on throughout.
func (db *DB) SetQuantization(ctx context.Context, tenant, name string, q Quantization) (CollectionInfo, error) {
	q, err := q.withDefaults()
	if err != nil {
		return CollectionInfo{}, err
	}
	h, err := db.Collection(tenant, name)
	if err != nil {
		return CollectionInfo{}, err
	}
	// The tier policy must not change under the check (SetTierPolicy
	// checks the other way round under the same lock).
	h.policyMu.Lock()
	defer h.policyMu.Unlock()
	if err := checkOriginalsPolicy(q, h.TierPolicy()); err != nil {
		return CollectionInfo{}, err
	}
	if err := db.meta.SetCollectionQuantization(ctx, h.info.ID, q.meta()); err != nil {
		return CollectionInfo{}, translateMetaErr(err)
	}
	h.quant.Store(&q)
	// A load that is running picks the settings up as it installs the
	// state (install); one that is in memory takes them now.
	if h.hold() {
		defer h.unpin()
		if err := h.c.SetQuantization(q); err != nil {
			return CollectionInfo{}, err
		}
	}
	return h.Info(), nil
}

// checkOriginalsPolicy refuses originals on disk for a collection that
// the object storage tier ships (memory-s3, s3-only): the tier uploads
// snapshots and the log, not vectors files, so a load or a restore from
// the store would find a snapshot without its vectors.
func checkOriginalsPolicy(q Quantization, policy string) error {
	if q.Type == QuantInt8 && q.Originals == OriginalsDisk && tiered(policy) {
		return invalid("quantization.originals", "disk is not available with the %s tier policy (the object store holds snapshots and the log, not the vectors file): use originals memory, or the memory tier policy", policy)
	}
	return nil
}

// quantization returns the collection's quantization settings.
func (h *Handle) quantization() Quantization {
	if q := h.quant.Load(); q != nil {
		return *q
	}
	return h.info.Config.Quantization
}

// WaitQuantization blocks until the collection's background quantization
// work is done (or waits for more vectors) and returns its status. It
// loads an evicted collection.
func (h *Handle) WaitQuantization() QuantizationStatus {
	if err := h.pin(context.Background()); err != nil {
		return QuantizationStatus{State: QuantStateFailed, Error: err.Error()}
	}
	defer h.unpin()
	return h.c.WaitQuantization()
}

// snapshotGens returns the vectors file generations the snapshots in the
// directory name. ok is false when one could not be read: then nothing is
// known to be unneeded.
func (h *Handle) snapshotGens() (map[uint64]bool, bool) {
	fsys := h.db.cfg.FS
	seqs, err := snapshot.List(fsys, h.snapshotDir())
	if err != nil {
		return nil, false
	}
	used := make(map[uint64]bool)
	for _, seq := range seqs {
		gen, ok, err := snapshotVectorsGen(fsys, h.snapshotDir(), seq)
		if err != nil {
			return nil, false
		}
		if ok {
			used[gen] = true
		}
	}
	return used, true
}

// removeOrphanVectors removes the vectors files that no snapshot names
// and the collection does not use or is not making: those of a move to
// disk or a compaction that a crash or a newer snapshot left behind.
func (h *Handle) removeOrphanVectors(c *Collection) error {
	used, ok := h.snapshotGens()
	if !ok {
		return nil
	}
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	if c.q.vectors != nil {
		used[c.q.vectors.Gen()] = true
	}
	for g := range c.q.making {
		used[g] = true
	}
	fsys, dir := h.db.cfg.FS, h.vectorsDir()
	gens, err := vecfile.List(fsys, dir)
	if err != nil {
		return err
	}
	var errs []error
	removed := false
	for _, g := range gens {
		if used[g] {
			continue
		}
		if err := fsys.Remove(filepath.Join(dir, vecfile.FileName(g))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove vectors file %d: %w", g, err))
			continue
		}
		removed = true
	}
	if removed {
		if err := fsys.SyncDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	h.refreshVectorsBytes(c)
	return errors.Join(errs...)
}

// refreshVectorsBytes sums the sizes of the vectors files on disk other
// than c's live one (DiskBytes counts that from the node count); c.q.mu
// is held.
func (h *Handle) refreshVectorsBytes(c *Collection) {
	fsys := h.db.cfg.FS
	gens, _ := vecfile.List(fsys, h.vectorsDir())
	var n int64
	for _, g := range gens {
		if c.q.vectors != nil && c.q.vectors.Gen() == g {
			continue
		}
		if fi, err := fsys.Stat(filepath.Join(h.vectorsDir(), vecfile.FileName(g))); err == nil {
			n += fi.Size()
		}
	}
	h.vectorsBytes.Store(n)
}
