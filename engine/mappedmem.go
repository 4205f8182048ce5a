package engine

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/akidb/akidb/engine/hnsw"
	"github.com/akidb/akidb/engine/mapped"
	"github.com/akidb/akidb/engine/wal"
)

// MappedDirName is the scratch directory, in a collection's directory,
// that holds the file-backed memory of a collection whose originals are
// on disk (engine/mapped): not durable, emptied at every load and removed
// when the collection leaves memory. Fsck, snapshots and the tier ignore
// it.
const MappedDirName = "mapped"

// wantsMapped reports whether a collection with these settings keeps its
// graph's layer-0 lists and codes in file-backed memory: int8 with the
// originals on disk, the setting for a small device. Other collections
// keep them on the heap, which is as fast and needs no scratch files.
func wantsMapped(q Quantization) bool {
	return q.Type == QuantInt8 && q.Originals == OriginalsDisk
}

// openArena opens the scratch arena in dir, or returns nil (the heap)
// when the filesystem is not the operating system's (tests' MemFS) or the
// directory cannot be made, which is logged: the collection works the
// same, in anonymous memory.
func openArena(fsys wal.FS, dir string, logger *slog.Logger) *mapped.Arena {
	if _, ok := fsys.(wal.OSFS); !ok {
		return nil
	}
	a, err := mapped.Open(dir, mapped.Options{Logger: logger})
	if err != nil {
		logger.Warn("file-backed memory unavailable, keeping the graph on the heap", "dir", dir, "err", err)
		return nil
	}
	return a
}

// allocatorOf is a as the graph's Allocator (a nil interface for none).
func allocatorOf(a *mapped.Arena) hnsw.Allocator {
	if a == nil {
		return nil
	}
	return a
}

// SetMappedDir makes an empty in-memory collection keep its graph's
// layer-0 lists and codes in file-backed shared mappings under dir
// (created if need be; its segment files are removed now and by
// CloseQuantization, and so is dir once empty), as a durable
// collection with originals on disk does in its "mapped" directory. It
// fails once the collection holds records.
func (c *Collection) SetMappedDir(dir string) error {
	a, err := mapped.Open(dir, mapped.Options{Logger: c.quantLogger()})
	if err != nil {
		return fmt.Errorf("collection %s: %w", c.cfg.Name, err)
	}
	if err := c.useArena(a); err != nil {
		_ = a.Close()
		return err
	}
	return nil
}

// useArena gives an empty collection's graph the arena a.
func (c *Collection) useArena(a *mapped.Arena) error {
	if err := c.graph.SetAllocator(allocatorOf(a)); err != nil {
		return fmt.Errorf("collection %s: %w", c.cfg.Name, err)
	}
	c.q.mu.Lock()
	c.q.arena = a
	c.q.mu.Unlock()
	return nil
}

// releaseArena empties the graph and unmaps its arena, when it has one:
// the collection is leaving memory (closeVectors).
func (c *Collection) releaseArena() error {
	c.q.mu.Lock()
	a := c.q.arena
	c.q.arena = nil
	c.q.mu.Unlock()
	if a == nil {
		return nil
	}
	c.graph.Release()
	return a.Close()
}

// mappedStats returns the arena's counters (zero without one).
func (c *Collection) mappedStats() mapped.Stats {
	c.q.mu.Lock()
	a := c.q.arena
	c.q.mu.Unlock()
	if a == nil {
		return mapped.Stats{}
	}
	return a.Stats()
}

// mappedDir is where a durable collection's arena lives.
func (h *Handle) mappedDir() string { return filepath.Join(h.dir, MappedDirName) }
