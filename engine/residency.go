package engine

// A collection's residency: whether its state (the in-memory index, and
// the open log) is in memory, and the references that keep it there.
//
// Every use of a collection's in-memory state holds a reference around it:
// a request pins the collection (pin: loading it first if it was evicted,
// and marking it used), the engine's own background work holds it only if
// it is resident (hold: a checkpoint, the shipper reading the log). An
// eviction drops the state only when no reference is held, so it never
// pulls the state from under a running search or write, and a request
// never sees a half-loaded collection: the state is installed whole, under
// the same lock pins take, once the load has finished.
//
//	resident --evict--> evicting --(no reference, no write since the
//	   ^                   |        checkpoint it shipped)--> evicted
//	   |                   +--(used meanwhile, or the upload failed)--> resident
//	   +--(load done)-- loading <--(first request, or an operator)-- evicted
//	                       |
//	                       +--(load failed)--> unavailable --(retry due)--> loading
//
// While a collection is not resident its Facts (count, size, applied
// sequence number) are the ones it had when it left memory: status,
// /metrics and quotas read them and never force a load.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/akidb/akidb/engine/wal"
)

// LoadState is where a collection's state is.
type LoadState string

// The load states.
const (
	// LoadResident: in memory, served.
	LoadResident LoadState = "resident"
	// LoadEvicting: being checkpointed and shipped to leave memory; still
	// served (a request meanwhile calls the eviction off).
	LoadEvicting LoadState = "evicting"
	// LoadEvicted: not in memory; the next request loads it.
	LoadEvicted LoadState = "evicted"
	// LoadLoading: being loaded; requests wait for it (up to their
	// deadline).
	LoadLoading LoadState = "loading"
	// LoadUnavailable: the last load failed (its reason says why: the
	// object store does not answer, say); the next attempt is at RetryAt.
	LoadUnavailable LoadState = "unavailable"
)

// Sentinel errors of a request to a collection that is not resident; the
// *LoadError that carries them says why and when to come back.
var (
	// ErrLoading: the collection is being loaded and the request's time
	// ran out first. The load goes on; retry after RetryAfter.
	ErrLoading = errors.New("collection is loading")
	// ErrUnavailable: the collection cannot be loaded now.
	ErrUnavailable = errors.New("collection is unavailable")
)

// LoadError is the answer to a request for a collection that is loading
// or unavailable. It matches ErrLoading or ErrUnavailable with errors.Is.
type LoadError struct {
	Collection string
	// Err is ErrLoading or ErrUnavailable.
	Err error
	// Reason says why the collection is unavailable ("" while loading).
	Reason string
	// RetryAfter is when to ask again (at least a second).
	RetryAfter time.Duration
}

func (e *LoadError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("collection %s: %v; retry in %v", e.Collection, e.Err, e.RetryAfter)
	}
	return fmt.Sprintf("collection %s: %v: %s; retry in %v", e.Collection, e.Err, e.Reason, e.RetryAfter)
}

// Unwrap returns ErrLoading or ErrUnavailable. It never wraps a context
// error: a request that gave up waiting for a load is not a request that
// timed out doing its own work.
func (e *LoadError) Unwrap() error { return e.Err }

// Facts are the figures of a collection that status, /metrics and quotas
// read: live while it is resident, and otherwise the ones it had when it
// left memory.
type Facts struct {
	Count       int
	Deleted     int
	MemoryBytes int64
	AppliedSeq  uint64
}

// residency is a Handle's load state and references; mu guards all of it
// and orders the installing and dropping of Handle.c and Handle.wal.
type residency struct {
	mu    sync.Mutex
	state LoadState
	// refs counts the pins and holds in force. drained, if set, is
	// closed when refs drops to 0 (an operator's eviction waits on it).
	refs    int
	drained chan struct{}
	// settled is closed when the running load, or the running last step
	// of an eviction (dropping), ends; nil when neither runs. Pins wait
	// on it.
	settled  chan struct{}
	dropping bool
	// draining: an operator's eviction holds new requests back (they wait
	// on settled) until the ones in flight are done.
	draining bool
	// cancelLoad stops the running load (a drop or Close does not wait
	// for a download to finish).
	cancelLoad context.CancelFunc
	// closed: the collection was dropped or the database is closing; no
	// pin succeeds and a load that finishes now is thrown away.
	closed bool
	facts  Facts

	lastUsed   time.Time
	reason     string    // why unavailable, or why the last eviction failed
	retryAt    time.Time // unavailable: the next load is not tried before
	failures   int       // loads failed in a row (the back-off)
	loadStart  time.Time
	lastLoad   time.Duration // how long the last load took (Retry-After)
	source     string        // where the last load read the state: local or store
	loadedAt   time.Time
	evictedAt  time.Time
	loads      uint64
	evictions  uint64
	lastResult string // the last eviction's outcome ("" none)
	// quant is the quantization status when the collection last left
	// memory (Stats reports it while it is out).
	quant QuantizationStatus
	// waiting counts the pins waiting for a load or an eviction's last
	// step; onWait, set by tests, is called as each one starts waiting.
	waiting int
	onWait  func()
}

// Back-off of the loads of an unavailable collection: retried after
// loadRetryBase, doubling per failure up to loadRetryMax.
const (
	loadRetryBase = 2 * time.Second
	loadRetryMax  = time.Minute
)

// resident reports whether the state is in memory (evicting included).
func (r *residency) resident() bool {
	return r.state == LoadResident || r.state == LoadEvicting
}

// pin takes a request's reference: it loads the collection if it is
// evicted (or unavailable and due for another try) and waits for the load
// until ctx is done, when the answer is a *LoadError (ErrLoading) and the
// load goes on. The collection counts as used now. Every successful pin
// is paired with unpin.
func (h *Handle) pin(ctx context.Context) error {
	r := &h.res
	r.mu.Lock()
	for {
		if r.closed {
			r.mu.Unlock()
			return fmt.Errorf("collection %s: %w", h.info.Name, ErrClosed)
		}
		now := h.db.now()
		switch {
		case r.dropping || r.draining || r.state == LoadLoading:
			// wait below
		case r.resident():
			r.refs++
			r.lastUsed = now
			r.mu.Unlock()
			return nil
		case r.state == LoadUnavailable && now.Before(r.retryAt):
			err := &LoadError{Collection: h.info.Name, Err: ErrUnavailable, Reason: r.reason, RetryAfter: retryAfter(r.retryAt.Sub(now))}
			r.mu.Unlock()
			return err
		default: // evicted, or unavailable and due
			h.startLoadLocked(now)
		}
		ch, hook := r.settled, r.onWait
		r.waiting++
		r.mu.Unlock()
		if hook != nil {
			hook()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			r.mu.Lock()
			r.waiting--
			err := &LoadError{Collection: h.info.Name, Err: ErrLoading, RetryAfter: h.loadETA(h.db.now())}
			r.mu.Unlock()
			return err
		}
		r.mu.Lock()
		r.waiting--
	}
}

// loadETA estimates when a load running now will be done, for
// Retry-After: what the last load of the collection took, or a second per
// 200 MB of its size. The caller holds r.mu.
func (h *Handle) loadETA(now time.Time) time.Duration {
	r := &h.res
	took := r.lastLoad
	if took == 0 {
		took = time.Duration(r.facts.MemoryBytes/(200<<20)) * time.Second
	}
	if r.state == LoadLoading {
		took -= now.Sub(r.loadStart)
	}
	return retryAfter(took)
}

// retryAfter rounds d up to whole seconds, at least one.
func retryAfter(d time.Duration) time.Duration {
	s := math.Ceil(d.Seconds())
	return time.Duration(max(1, s)) * time.Second
}

// hold takes a reference for the engine's own work, only if the state is
// in memory: it never loads, and it does not count as use. It reports
// whether it took one (then unpin).
func (h *Handle) hold() bool {
	r := &h.res
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dropping || !r.resident() {
		return false
	}
	r.refs++
	return true
}

// unpin releases a pin or a hold.
func (h *Handle) unpin() {
	r := &h.res
	r.mu.Lock()
	r.refs--
	if r.refs == 0 && r.drained != nil {
		close(r.drained)
		r.drained = nil
	}
	r.mu.Unlock()
}

// Acquire takes a request's reference on the collection and returns the
// function that releases it: until then the collection stays in memory.
// An evicted collection is loaded first; if the load does not finish
// before ctx is done the answer is a *LoadError matching ErrLoading (the
// load goes on), and a collection whose load failed answers one matching
// ErrUnavailable until its next attempt is due. The methods of Handle
// take their own reference, so Acquire is only needed to keep the
// collection in memory across several of them (a request), and to bound
// the wait for a load by a deadline.
func (h *Handle) Acquire(ctx context.Context) (release func(), err error) {
	if err := h.pin(ctx); err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(h.unpin) }, nil
}

// Facts returns the collection's figures without loading it: live while
// it is resident, otherwise as of when it left memory.
func (h *Handle) Facts() Facts {
	if h.hold() {
		defer h.unpin()
		st := h.c.Stats()
		return Facts{Count: st.Count, Deleted: st.Deleted, MemoryBytes: st.MemoryBytes, AppliedSeq: st.AppliedSeq}
	}
	r := &h.res
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.facts
}

// Residency is a collection's load state, for status.
type Residency struct {
	State LoadState
	// Reason says why the collection is unavailable (or why the last
	// eviction failed, while it is resident).
	Reason string
	// RetryAt is when an unavailable collection is tried again.
	RetryAt  time.Time
	LastUsed time.Time
	// LoadedAt and EvictedAt are the last load and eviction (zero: none
	// since the start); LastLoad is how long that load took and Source
	// where it read the state from ("local" or "store").
	LoadedAt  time.Time
	EvictedAt time.Time
	LastLoad  time.Duration
	Source    string
	Loads     uint64
	Evictions uint64
	// References are the requests (and engine tasks) using it now;
	// Waiting the requests waiting for it to load.
	References int
	Waiting    int
	Facts      Facts
}

// Residency returns the collection's load state. It never loads it.
func (h *Handle) Residency() Residency {
	f := h.Facts()
	r := &h.res
	r.mu.Lock()
	defer r.mu.Unlock()
	return Residency{State: r.state, Reason: r.reason, RetryAt: r.retryAt, LastUsed: r.lastUsed, LoadedAt: r.loadedAt, EvictedAt: r.evictedAt,
		LastLoad: r.lastLoad, Source: r.source, Loads: r.loads, Evictions: r.evictions, References: r.refs, Waiting: r.waiting, Facts: f}
}

// WaitSettled waits until the collection is neither loading nor in the
// last step of an eviction (tests; operators use the load route).
func (h *Handle) WaitSettled(ctx context.Context) error {
	r := &h.res
	for {
		r.mu.Lock()
		ch := r.settled
		r.mu.Unlock()
		if ch == nil {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// closeResidency marks the collection closed (dropped, or the database
// closing) and waits for a load or an eviction's last step in flight to
// end. It reports whether the state is in memory, to be closed.
func (h *Handle) closeResidency() bool {
	r := &h.res
	r.mu.Lock()
	r.closed = true
	if r.cancelLoad != nil {
		r.cancelLoad()
	}
	for r.settled != nil {
		ch := r.settled
		r.mu.Unlock()
		<-ch
		r.mu.Lock()
	}
	defer r.mu.Unlock()
	return r.resident()
}

// now is the time of the tier's clock (tests drive it), or the system's.
func (db *DB) now() time.Time {
	if tc := db.cfg.Tier; tc != nil && tc.Tier.Clock != nil {
		return tc.Tier.Clock.Now()
	}
	return time.Now()
}

// DiskBytes is the size of the collection's local files: log, snapshots,
// vectors files (originals on disk), the object storage tier's staged
// uploads and, while it is loaded, the scratch files of its mapped lists
// and codes (reserved with fallocate: they take that much of the disk). While the collection is in memory the log's, the snapshots'
// and the vectors files' sizes are those kept as they change (quotas read
// them on every write; the live vectors file's rows since the last
// checkpoint are estimated from the node count) and only the tier's small
// directory is read; while it is not, every file in its directory is (a
// file that vanishes meanwhile counts for nothing).
func (h *Handle) DiskBytes() int64 {
	if h.hold() {
		defer h.unpin()
		n := h.wal.Size() + h.snapshotBytes.Load() + h.vectorsBytes.Load() + filesSize(h.db.cfg.FS, filepath.Join(h.dir, "tier"))
		if h.c.vectorsFile() != nil {
			n += 64 + int64(h.c.graph.Len())*int64(h.c.cfg.Dimension)*4
		}
		return n + h.c.mappedStats().MappedBytes
	}
	return h.coldDisk.size(h)
}

// coldDiskBytes caches the walk of an evicted collection's directory.
// Quota checks read every collection of a quota'd tenant on every write,
// and the walk costs a stat per file; the files of an evicted collection
// change only when an eviction ends, a load starts, or the s3-only cache
// removes a snapshot, and each of those invalidates the figure.
type coldDiskBytes struct {
	mu    sync.Mutex
	gen   uint64 // bumped by invalidate: a walk begun before it is not kept
	n     int64
	known bool
}

func (c *coldDiskBytes) invalidate() {
	c.mu.Lock()
	c.gen++
	c.known = false
	c.mu.Unlock()
}

// size returns the directory's size, walked if not known; it is kept only
// while the collection is evicted (a load writes files as it goes).
func (c *coldDiskBytes) size(h *Handle) int64 {
	c.mu.Lock()
	if c.known {
		n := c.n
		c.mu.Unlock()
		return n
	}
	gen := c.gen
	c.mu.Unlock()
	n := filesSize(h.db.cfg.FS, h.dir)
	h.res.mu.Lock()
	evicted := h.res.state == LoadEvicted
	h.res.mu.Unlock()
	c.mu.Lock()
	if evicted && c.gen == gen {
		c.n, c.known = n, true
	}
	c.mu.Unlock()
	return n
}

// filesSize sums the sizes of the files under path.
func filesSize(fsys wal.FS, path string) int64 {
	fi, err := fsys.Stat(path)
	if err != nil {
		return 0
	}
	if !fi.IsDir() {
		return fi.Size()
	}
	names, err := fsys.ReadDir(path)
	if err != nil {
		return 0
	}
	var n int64
	for _, name := range names {
		n += filesSize(fsys, filepath.Join(path, name))
	}
	return n
}
