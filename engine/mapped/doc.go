// Package mapped owns the file-backed memory of a collection whose
// originals are on disk: an Arena hands out zeroed, aligned regions carved
// from segment files in a scratch directory, each mapped MAP_SHARED, so the
// pages are page cache rather than the process's anonymous memory. The
// kernel keeps them resident while memory is plentiful and, under pressure,
// writes them back to their file and drops them, reading them again on the
// next touch: a small device trades speed for memory instead of failing.
//
// The files are scratch, not durable: the snapshot and the log stay the
// source of truth, Open removes the segment files an earlier process left
// and Close removes its own (and the directory, once empty). A
// segment's file is grown with fallocate before it is mapped, so a full
// disk shows up as an error at allocation (never as SIGBUS on a later
// write). When a segment cannot be made (no space, no fallocate, any other
// error) Alloc falls back to the Go heap for that region, counts it and
// logs once: nothing is lost, the process just uses more memory.
//
// Regions are never unmapped while a reader could hold them: Free only
// returns a region to a free list for reuse (its caller guarantees no
// reader holds it), and the mappings go away at Close, which the owner
// calls once nothing reads the regions any more. On systems without
// fallocate and mmap (anything but Linux) every region comes from the heap.
package mapped
