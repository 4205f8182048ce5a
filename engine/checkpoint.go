package engine

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/akidb/akidb/engine/snapshot"
)

// keepSnapshots is how many snapshots a collection keeps: the newest, and
// one older with the log since it, to fall back on if the newest is found
// damaged.
const keepSnapshots = 2

// Checkpoint writes a snapshot of the collection if anything changed since
// the last one, then deletes older snapshots and the log segments that no
// kept snapshot needs. Writes pause only while the state is captured (a
// copy of the ids and neighbour lists, and a vacuum when tombstones exceed
// VacuumRatio), not while it is written; searches never pause.
//
// A collection that is not in memory has nothing to checkpoint: Checkpoint
// does nothing then (it never loads one).
func (h *Handle) Checkpoint() error { return h.checkpointNow(false) }

// checkpointNow is Checkpoint; local makes it write a local snapshot even
// for an s3-only collection whose state the store already holds as a
// snapshot (which a checkpoint otherwise leaves to the store: its local
// snapshots are only a cache, cache.go).
func (h *Handle) checkpointNow(local bool) error {
	h.ckptMu.Lock()
	defer h.ckptMu.Unlock()
	h.ckptQueued.Store(false)
	if err := h.stopping(); err != nil {
		return err
	}
	if !h.hold() {
		return nil
	}
	defer h.unpin()
	start := time.Now()
	err := h.checkpoint(local)
	h.db.cfg.Observer.Checkpoint(h.info.Name, time.Since(start), err)
	if err != nil {
		h.db.log.Error("checkpoint failed", "collection", h.info.Name, "tenant", h.info.TenantID, "err", err)
	}
	return err
}

func (h *Handle) checkpoint(local bool) error {
	c := h.c
	c.lockWrites()
	seq := c.appliedSeq()
	seqs, err := snapshot.List(h.db.cfg.FS, h.snapshotDir())
	if err != nil {
		c.writeGate.Unlock()
		return err
	}
	compact := h.compact.Swap(false) && c.graph.Deleted() > 0
	inStore := !local && h.TierPolicy() == TierS3Only && h.newestShippedSnapshot() == seq
	if !compact && (len(seqs) > 0 && seqs[0] == seq || inStore) {
		c.writeGate.Unlock()
		h.sinceRecords.Store(0)
		h.sinceBytes.Store(0)
		return nil // nothing new
	}
	if st := c.graph.Len(); st > 0 && (compact || float64(c.graph.Deleted()) >= h.db.cfg.VacuumRatio*float64(st)) {
		// Not while quantization work runs (the graph cannot be
		// renumbered under a re-encoding): the next checkpoint vacuums.
		if c.q.jobMu.TryLock() {
			_, err := c.vacuumGated()
			c.q.jobMu.Unlock()
			if err != nil {
				c.writeGate.Unlock()
				return err
			}
		} else {
			if compact {
				h.compact.Store(true)
			}
			h.db.log.Info("vacuum put off: quantization work is running", "collection", h.info.Name)
		}
	}
	// Take the state, then let writes resume: writing it out (hundreds of
	// megabytes for a large collection) happens while writes go on.
	st, err := c.captureState()
	if err != nil {
		c.writeGate.Unlock()
		return fmt.Errorf("checkpoint %s at %d: %w", h.info.Name, seq, err)
	}
	view := h.parquetView()
	h.sinceRecords.Store(0)
	h.sinceBytes.Store(0)
	c.writeGate.Unlock()
	// With the originals on disk, the rows the state covers must be
	// durable before a snapshot names them.
	if err := st.quant.commitVectors(); err != nil {
		return fmt.Errorf("checkpoint %s at %d: %w", h.info.Name, seq, err)
	}
	if err := h.writeSnapshot(st, seq); err != nil {
		return fmt.Errorf("checkpoint %s at %d: %w", h.info.Name, seq, err)
	}
	h.lastCheckpoint.Store(time.Now().UnixNano())
	if err := h.stopping(); err != nil {
		return err
	}
	h.writeParquet(view, seq)
	h.tierCheckpointed()
	err = h.pruneAfterCheckpoint()
	if verr := h.removeOrphanVectors(c); verr != nil {
		err = errors.Join(err, verr)
	}
	// Retraining on drift, or on growth past the training sample, starts
	// here, in the background.
	c.checkRetrain()
	return err
}

// writeSnapshot writes the captured state as the snapshot for seq. It
// gives up (removing what it wrote) as soon as the handle starts closing,
// so a drop waits for at most one megabyte more of it.
func (h *Handle) writeSnapshot(st *stateCapture, seq uint64) error {
	if err := h.stopping(); err != nil {
		return err
	}
	w, err := snapshot.Create(h.db.cfg.FS, h.snapshotDir(), seq)
	if err != nil {
		return err
	}
	if err := st.encode(stopWriter{w: w, stop: h.stopping}); err != nil {
		w.Abort()
		return err
	}
	if err := h.stopping(); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// stopping returns ErrClosed once the handle is closing or closed.
func (h *Handle) stopping() error {
	if h.closing.Load() || h.closed.Load() {
		return fmt.Errorf("collection %s: %w", h.info.Name, ErrClosed)
	}
	return nil
}

// stopWriter fails writes once stop does.
type stopWriter struct {
	w    io.Writer
	stop func() error
}

func (s stopWriter) Write(p []byte) (int, error) {
	if err := s.stop(); err != nil {
		return 0, err
	}
	return s.w.Write(p)
}

// pruneAfterCheckpoint keeps the newest keepSnapshots snapshots and the
// log from the oldest kept one on, and whatever the object storage tier
// has not confirmed uploaded yet (a snapshot queued for upload, the log
// after what the store's manifest reaches).
func (h *Handle) pruneAfterCheckpoint() error {
	defer h.refreshSnapshotBytes()
	seqs, err := snapshot.List(h.db.cfg.FS, h.snapshotDir())
	if err != nil {
		return err
	}
	var errs []error
	for _, old := range seqs[min(len(seqs), keepSnapshots):] {
		if h.tierHoldsSnapshot(old) {
			continue
		}
		if err := h.db.cfg.FS.Remove(h.snapshotDir() + "/" + snapshot.FileName(old)); err != nil {
			errs = append(errs, fmt.Errorf("remove old snapshot %d: %w", old, err))
		}
	}
	if bases := h.logBases(seqs); len(bases) >= keepSnapshots {
		before := bases[keepSnapshots-1] + 1
		if keep := h.keepLogFrom(); keep > 0 {
			before = min(before, keep)
		}
		if err := h.wal.TruncateBefore(before); err != nil {
			errs = append(errs, fmt.Errorf("truncate log before %d: %w", before, err))
		}
	}
	return errors.Join(errs...)
}

// refreshSnapshotBytes sums the sizes of the snapshots on disk; a file it
// cannot stat counts for nothing (Stats must not fail).
func (h *Handle) refreshSnapshotBytes() {
	fsys := h.db.cfg.FS
	seqs, _ := snapshot.List(fsys, h.snapshotDir())
	var n int64
	for _, seq := range seqs {
		if fi, err := fsys.Stat(filepath.Join(h.snapshotDir(), snapshot.FileName(seq))); err == nil {
			n += fi.Size()
		}
	}
	h.snapshotBytes.Store(n)
}

// RequestCompaction asks for a checkpoint in the background that vacuums
// every tombstone (deleted and replaced records keep their vectors in
// memory until a vacuum) and lets the log be truncated. A tenant refused
// for its quota is given back what deletes and replacements freed, without
// waiting for the usual thresholds.
func (h *Handle) RequestCompaction() {
	h.compact.Store(true)
	if h.ckptQueued.CompareAndSwap(false, true) {
		h.db.ckpt.request(h)
	}
}

// logBases are the snapshots the log may be truncated to, newest first:
// the local ones and, for an s3-only collection (whose local snapshots
// are only a cache, cache.go), those in the store's manifest too (a load
// downloads the newest of them when it is missing).
func (h *Handle) logBases(local []uint64) []uint64 {
	if h.TierPolicy() != TierS3Only || h.db.tier == nil {
		return local
	}
	all := append(slices.Clone(local), h.db.tier.ShippedSnapshots(h.info.ID)...)
	slices.Sort(all)
	all = slices.Compact(all)
	slices.Reverse(all)
	return all
}

// checkpointer runs requested checkpoints in the background, one at a
// time, so the writer that crossed the threshold does not pay for it.
type checkpointer struct {
	db      *DB
	reqs    chan *Handle
	done    chan struct{}
	mu      sync.Mutex
	stopped bool
}

func newCheckpointer(db *DB) *checkpointer {
	cp := &checkpointer{db: db, reqs: make(chan *Handle, 64), done: make(chan struct{})}
	go cp.run()
	return cp
}

func (cp *checkpointer) run() {
	defer close(cp.done)
	for h := range cp.reqs {
		if h.closed.Load() {
			continue
		}
		_ = h.Checkpoint()
	}
}

// request queues h; if the queue is full the request is dropped and the
// next write over the threshold asks again.
func (cp *checkpointer) request(h *Handle) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.stopped {
		h.ckptQueued.Store(false)
		return
	}
	select {
	case cp.reqs <- h:
	default:
		h.ckptQueued.Store(false)
	}
}

func (cp *checkpointer) stop() {
	cp.mu.Lock()
	if !cp.stopped {
		cp.stopped = true
		close(cp.reqs)
	}
	cp.mu.Unlock()
	<-cp.done
}
