package engine

import (
	"errors"
	"fmt"
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
	if h.closed.Load() {
		return ErrClosed
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
	inStore := !local && h.TierPolicy() == TierS3Only && h.newestShippedSnapshot() == seq
	if len(seqs) > 0 && seqs[0] == seq || inStore {
		c.writeGate.Unlock()
		h.sinceRecords.Store(0)
		h.sinceBytes.Store(0)
		return nil // nothing new
	}
	if st := c.graph.Len(); st > 0 && float64(c.graph.Deleted()) >= h.db.cfg.VacuumRatio*float64(st) {
		if _, err := c.vacuumGated(); err != nil {
			c.writeGate.Unlock()
			return err
		}
	}
	// Take the state, then let writes resume: writing it out (hundreds of
	// megabytes for a large collection) happens while writes go on.
	st := c.captureState()
	view := h.parquetView()
	h.sinceRecords.Store(0)
	h.sinceBytes.Store(0)
	c.writeGate.Unlock()
	w, err := snapshot.Create(h.db.cfg.FS, h.snapshotDir(), seq)
	if err == nil {
		if err = st.encode(w); err != nil {
			w.Abort()
		} else {
			err = w.Commit()
		}
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s at %d: %w", h.info.Name, seq, err)
	}
	h.lastCheckpoint.Store(time.Now().UnixNano())
	h.writeParquet(view, seq)
	h.tierCheckpointed()
	return h.pruneAfterCheckpoint()
}

// pruneAfterCheckpoint keeps the newest keepSnapshots snapshots and the
// log from the oldest kept one on, and whatever the object storage tier
// has not confirmed uploaded yet (a snapshot queued for upload, the log
// after what the store's manifest reaches).
func (h *Handle) pruneAfterCheckpoint() error {
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
