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
// stored in the catalog first (so a restart goes on with them), then the
// collection re-encodes in the background (its info reports the work).
// Searches and writes go on throughout.
func (db *DB) SetQuantization(ctx context.Context, tenant, name string, q Quantization) (CollectionInfo, error) {
	q, err := q.withDefaults()
	if err != nil {
		return CollectionInfo{}, err
	}
	h, err := db.Collection(tenant, name)
	if err != nil {
		return CollectionInfo{}, err
	}
	if err := db.meta.SetCollectionQuantization(ctx, h.info.ID, q.meta()); err != nil {
		return CollectionInfo{}, translateMetaErr(err)
	}
	if err := h.c.SetQuantization(q); err != nil {
		return CollectionInfo{}, err
	}
	return h.Info(), nil
}

// Info returns the catalog entry, with the current quantization settings.
func (h *Handle) Info() CollectionInfo {
	info := h.info
	info.Config.Quantization = h.c.Config().Quantization
	return info
}

// WaitQuantization blocks until the collection's background quantization
// work is done (or waits for more vectors) and returns its status.
func (h *Handle) WaitQuantization() QuantizationStatus { return h.c.WaitQuantization() }

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
func (h *Handle) removeOrphanVectors() error {
	used, ok := h.snapshotGens()
	if !ok {
		return nil
	}
	c := h.c
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
	h.refreshVectorsBytes()
	return errors.Join(errs...)
}

// refreshVectorsBytes sums the sizes of the vectors files on disk other
// than the live one (DiskBytes counts that from the node count); c.q.mu
// is held.
func (h *Handle) refreshVectorsBytes() {
	fsys := h.db.cfg.FS
	gens, _ := vecfile.List(fsys, h.vectorsDir())
	var n int64
	for _, g := range gens {
		if h.c.q.vectors != nil && h.c.q.vectors.Gen() == g {
			continue
		}
		if fi, err := fsys.Stat(filepath.Join(h.vectorsDir(), vecfile.FileName(g))); err == nil {
			n += fi.Size()
		}
	}
	h.vectorsBytes.Store(n)
}
