package engine

// Eviction: a memory-s3 or s3-only collection leaves memory once its
// state is safe without it (checkpointed, and the store's manifest
// reaching its last write), either because the process is over its memory
// budget and the collection is among the least recently used idle ones, or
// because an operator asked. The residency loop runs the budget, retries
// unavailable collections and bounds the s3-only snapshot cache.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// ResidencyObserver is told about loads and evictions, for metrics; an
// Observer that implements it gets the calls (serve/metrics does).
type ResidencyObserver interface {
	// CollectionLoaded: source is SourceLocal or SourceStore.
	CollectionLoaded(source string, d time.Duration, err error)
	// CollectionEvicted: reason is EvictBudget or EvictOperator.
	CollectionEvicted(reason string, d time.Duration, err error)
}

// Why a collection is evicted.
const (
	EvictBudget   = "budget"
	EvictOperator = "operator"
)

var (
	// ErrNotEvictable: the collection cannot leave memory (its policy is
	// memory, there is no object store, or it is not in memory).
	ErrNotEvictable = errors.New("collection cannot be evicted")
	// ErrInUse: an eviction by the budget found the collection used while
	// it was preparing; it stays in memory.
	ErrInUse = errors.New("collection was used during its eviction")
)

func (db *DB) memoryBudget() int64 {
	if db.cfg.Tier == nil {
		return 0
	}
	return db.cfg.Tier.MemoryBudget
}

func (db *DB) evictAfter() time.Duration {
	if db.cfg.Tier == nil || db.cfg.Tier.EvictAfter == 0 {
		return DefaultEvictAfter
	}
	return db.cfg.Tier.EvictAfter
}

// EvictCollection evicts the tenant's collection now, whatever the budget
// and however recently it was used (an operator's request): it waits, up
// to ctx, for the requests using it to finish, checkpoints it if needed,
// waits for its upload to be confirmed, and drops it from memory.
func (db *DB) EvictCollection(ctx context.Context, tenant, name string) (Residency, error) {
	h, err := db.Collection(tenant, name)
	if err != nil {
		return Residency{}, err
	}
	err = db.evict(ctx, h, EvictOperator)
	return h.Residency(), err
}

// LoadCollection loads the tenant's collection into memory now (an
// operator's request) and waits for it, up to ctx (then a *LoadError).
func (db *DB) LoadCollection(ctx context.Context, tenant, name string) (Residency, error) {
	h, err := db.Collection(tenant, name)
	if err != nil {
		return Residency{}, err
	}
	release, err := h.Acquire(ctx)
	if err != nil {
		return h.Residency(), err
	}
	release()
	return h.Residency(), nil
}

// evict moves a resident collection out of memory.
func (db *DB) evict(ctx context.Context, h *Handle, reason string) error {
	if db.tier == nil {
		return fmt.Errorf("%w: %s: no object store is configured", ErrNotEvictable, h.info.Name)
	}
	if p := h.TierPolicy(); !tiered(p) {
		return fmt.Errorf("%w: %s has the %s policy; only memory-s3 and s3-only collections leave memory", ErrNotEvictable, h.info.Name, p)
	}
	r := &h.res
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		return fmt.Errorf("collection %s: %w", h.info.Name, ErrClosed)
	case r.state == LoadEvicted && !r.dropping:
		r.mu.Unlock()
		return nil
	case r.state != LoadResident || r.dropping:
		st := r.state
		r.mu.Unlock()
		return fmt.Errorf("%w: %s is %s", ErrNotEvictable, h.info.Name, st)
	}
	r.state = LoadEvicting
	seen := r.lastUsed
	r.mu.Unlock()
	start := time.Now()
	err := db.evictResident(ctx, h, reason == EvictOperator, seen)
	if ro, ok := db.cfg.Observer.(ResidencyObserver); ok {
		ro.CollectionEvicted(reason, time.Since(start), err)
	}
	r.mu.Lock()
	if err != nil {
		if r.state == LoadEvicting {
			r.state = LoadResident
		}
		if r.draining {
			// The requests held back go on with the collection in memory.
			r.draining = false
			close(r.settled)
			r.settled = nil
		}
		r.reason = "eviction failed: " + err.Error()
	} else {
		r.reason = ""
	}
	r.mu.Unlock()
	if err == nil {
		db.log.Info("collection evicted", "collection", h.info.Name, "tenant", h.info.TenantID, "reason", reason, "duration", time.Since(start))
		// The budget releases once per run (evictFor); an operator's
		// eviction at once.
		if f := db.cfg.Tier.ReleaseMemory; f != nil && reason == EvictOperator {
			f()
		}
	}
	return err
}

// evictResident prepares (checkpoint, confirmed upload) and then drops
// the state once no reference is held and nothing was written since the
// checkpoint. The budget's eviction gives up if the collection was used
// meanwhile; an operator's holds new requests back, waits for those in
// flight, and prepares again after a write.
func (db *DB) evictResident(ctx context.Context, h *Handle, operator bool, seen time.Time) error {
	r := &h.res
	for {
		if !h.logHealthy() {
			return fmt.Errorf("%w: %s: its log has failed (it is read-only); it stays in memory", ErrNotEvictable, h.info.Name)
		}
		if err := h.Checkpoint(); err != nil {
			return fmt.Errorf("evict %s: %w", h.info.Name, err)
		}
		db.cfg.crashAt("evict:checkpointed")
		seq := h.c.appliedSeq() // evicting: only this eviction drops c
		if db.tier.ShippedSeq(h.info.ID) < seq {
			if err := db.tier.Ship(ctx, h.info.ID); err != nil {
				return fmt.Errorf("evict %s: its upload is not confirmed: %w", h.info.Name, err)
			}
			if got := db.tier.ShippedSeq(h.info.ID); got < seq {
				return fmt.Errorf("evict %s: its upload is not confirmed: the store holds it up to sequence %d, it is at %d", h.info.Name, got, seq)
			}
		}
		db.cfg.crashAt("evict:shipped")
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return fmt.Errorf("collection %s: %w", h.info.Name, ErrClosed)
		}
		written := h.c.appliedSeq() != seq
		if !operator && (r.refs > 0 || !r.lastUsed.Equal(seen) || written) {
			r.mu.Unlock()
			return fmt.Errorf("%w: %s", ErrInUse, h.info.Name)
		}
		if written || r.refs > 0 {
			// An operator's eviction drains the collection: new requests
			// wait (for the eviction, then a load), those in flight
			// finish, and the state is prepared again if they wrote.
			if !r.draining {
				r.draining = true
				if r.settled == nil {
					r.settled = make(chan struct{})
				}
			}
			if r.refs == 0 {
				r.mu.Unlock()
				continue
			}
			if r.drained == nil {
				r.drained = make(chan struct{})
			}
			ch := r.drained
			r.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return fmt.Errorf("evict %s: requests still use it: %w", h.info.Name, ctx.Err())
			}
		}
		r.dropping = true
		if r.settled == nil {
			r.settled = make(chan struct{})
		}
		r.mu.Unlock()
		db.dropState(h)
		return nil
	}
}

// dropState closes the log, marks the collection cold and drops its
// in-memory state. The caller set dropping: no reference is held and none
// can be taken until it ends.
func (db *DB) dropState(h *Handle) {
	// Background quantization work stops at its next step: what it did
	// since the checkpoint is done again after the next load (the
	// snapshot holds the codes and ranges it had reached).
	h.c.stopQuant()
	// An index still building is not in the snapshot just written: the
	// catalog has it, and the next load builds it again.
	h.c.builds.stopAll()
	st := h.c.Stats()
	qs := st.Quantization
	if qs.State == QuantStateWorking {
		qs.State, qs.Step, qs.Progress = QuantStateNotLoaded, "", 0 // resumed by the next load
	}
	facts := Facts{Count: st.Count, Deleted: st.Deleted, MemoryBytes: st.MemoryBytes, AppliedSeq: st.AppliedSeq}
	h.c.writeGate.Lock()
	err := h.wal.Close()
	h.c.writeGate.Unlock()
	if verr := h.c.closeVectors(); verr != nil {
		db.log.Error("closing the vectors file of an evicted collection", "collection", h.info.Name, "err", verr)
	}
	if err != nil {
		// Everything in it is fsynced and shipped; the next load reopens
		// (and, if need be, repairs) it.
		db.log.Error("closing the log of an evicted collection", "collection", h.info.Name, "err", err)
	}
	db.cfg.crashAt("evict:closed")
	now := db.now()
	if err := h.writeCold(facts, now); err != nil {
		db.log.Warn("marking an evicted collection cold failed; the next start loads it", "collection", h.info.Name, "err", err)
	}
	db.cfg.crashAt("evict:marked")
	h.coldDisk.invalidate() // the log closed, the cold marker written
	r := &h.res
	r.mu.Lock()
	h.c, h.wal = nil, nil
	r.state = LoadEvicted
	r.facts = facts
	r.quant = qs
	r.evictions++
	r.evictedAt = now
	r.dropping, r.draining = false, false
	close(r.settled)
	r.settled = nil
	r.mu.Unlock()
}

// EvictReport says what one run of the budget did.
type EvictReport struct {
	// Budget is the memory budget (0: none); ResidentBytes what the
	// collections in memory (and those loading) take after the run.
	Budget        int64
	ResidentBytes int64
	// Evicted names the collections evicted ("tenant/name").
	Evicted []string
	// Failed counts evictions that did not happen (the store did not
	// confirm the upload, the collection was used meanwhile).
	Failed int
	// Over: still over the budget (nothing else is idle long enough).
	Over bool
	// NextIdle is how soon a memory-s3 or s3-only collection in memory
	// will have been unused for EvictAfter (0: none will).
	NextIdle time.Duration
}

// EvictOnce runs the memory budget once: while the collections in memory
// take more than the budget, it evicts the least recently used memory-s3
// and s3-only collections unused for at least EvictAfter. The residency
// loop calls it every ResidencyInterval and after every load; tests call
// it directly.
func (db *DB) EvictOnce(ctx context.Context) EvictReport {
	return db.evictFor(ctx, nil)
}

// makeRoom runs the budget before h is loaded (h counts with its size as
// of when it left memory), so the budget holds while its state comes in.
// When nothing is idle long enough yet but a collection will be soon, it
// waits for that, up to RoomWait: a burst of cold hits then replaces cold
// collections in memory instead of piling them up over the budget.
func (db *DB) makeRoom(ctx context.Context, h *Handle) {
	wait := db.roomWait()
	deadline := time.Now().Add(wait)
	for {
		rep := db.evictFor(ctx, h)
		left := time.Until(deadline)
		if !rep.Over || rep.NextIdle <= 0 || left <= 0 {
			return
		}
		t := time.NewTimer(min(left, roomPoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// DefaultRoomWait is TierConfig.RoomWait's default; roomPoll how often a
// waiting load looks again (a collection may be released sooner).
const (
	DefaultRoomWait = 5 * time.Second
	roomPoll        = 50 * time.Millisecond
)

func (db *DB) roomWait() time.Duration {
	switch w := db.cfg.Tier.RoomWait; {
	case w == 0:
		return DefaultRoomWait
	case w < 0:
		return 0
	default:
		return w
	}
}

func (db *DB) evictFor(ctx context.Context, except *Handle) EvictReport {
	rep := EvictReport{Budget: db.memoryBudget()}
	if rep.Budget <= 0 || db.tier == nil {
		return rep
	}
	db.evictMu.Lock()
	defer db.evictMu.Unlock()
	hs, ok := db.handlesNoWait()
	if !ok {
		// A create or drop holds the database's lock, and may be waiting
		// for this very load to settle (a drop closing the collection):
		// leave the room to the residency loop, which runs after the load.
		return rep
	}
	used := residentBytes(hs)
	rep.ResidentBytes = used
	if used <= rep.Budget {
		return rep
	}
	type candidate struct {
		h        *Handle
		lastUsed time.Time
	}
	now, idle := db.now(), db.evictAfter()
	var cands []candidate
	for _, h := range hs {
		if h == except || !tiered(h.TierPolicy()) {
			continue
		}
		r := &h.res
		r.mu.Lock()
		if r.state == LoadResident && !r.dropping && !r.closed {
			switch since := now.Sub(r.lastUsed); {
			case r.refs == 0 && since >= idle:
				cands = append(cands, candidate{h, r.lastUsed})
			case rep.NextIdle == 0 || idle-since < rep.NextIdle:
				rep.NextIdle = max(idle-since, time.Nanosecond)
			}
		}
		r.mu.Unlock()
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].lastUsed.Before(cands[j].lastUsed) })
	for _, c := range cands {
		if used <= rep.Budget || ctx.Err() != nil {
			break
		}
		size := c.h.Facts().MemoryBytes
		if err := db.evict(ctx, c.h, EvictBudget); err != nil {
			rep.Failed++
			if !errors.Is(err, ErrInUse) {
				db.log.Warn("could not evict a collection to stay within the memory budget", "collection", c.h.info.Name, "tenant", c.h.info.TenantID, "err", err)
			}
			continue
		}
		used -= size
		rep.Evicted = append(rep.Evicted, c.h.info.TenantID+"/"+c.h.info.Name)
	}
	if len(rep.Evicted) > 0 {
		if f := db.cfg.Tier.ReleaseMemory; f != nil {
			f()
		}
		used = residentBytes(hs)
	}
	rep.ResidentBytes = used
	rep.Over = used > rep.Budget
	if rep.Over != db.overBudget.Swap(rep.Over) && rep.Over {
		db.log.Warn("collections in memory exceed the memory budget and none more is idle long enough to evict",
			"resident_bytes", used, "budget", rep.Budget, "evict_after", idle)
	}
	return rep
}

// residentBytes is what the collections in memory take, with those
// loading at their size as of when they left memory.
func residentBytes(hs []*Handle) int64 {
	var n int64
	for _, h := range hs {
		r := &h.res
		r.mu.Lock()
		st, f := r.state, r.facts
		r.mu.Unlock()
		switch st {
		case LoadResident, LoadEvicting:
			n += h.Facts().MemoryBytes
		case LoadLoading:
			n += f.MemoryBytes
		}
	}
	return n
}

// handles lists the open collections.
func (db *DB) handles() []*Handle {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.handlesLocked()
}

// handlesNoWait is handles for a load, which must not wait for db.mu: a
// drop holds it while it waits for the load to settle. It reports false
// when the lock is held (or wanted) for writing.
func (db *DB) handlesNoWait() ([]*Handle, bool) {
	if !db.mu.TryRLock() {
		return nil, false
	}
	defer db.mu.RUnlock()
	return db.handlesLocked(), true
}

func (db *DB) handlesLocked() []*Handle {
	hs := make([]*Handle, 0, len(db.cols))
	for _, h := range db.cols {
		hs = append(hs, h)
	}
	return hs
}

// ResidencyTotals describe the memory budget and the s3-only cache, for
// status.
type ResidencyTotals struct {
	Budget        int64
	EvictAfter    time.Duration
	ResidentBytes int64
	Resident      int // collections in memory
	Unavailable   int // collections whose load failed
	Collections   int
	CacheLimit    int64 // negative: none
	CacheBytes    int64
}

// CollectionTotals are every collection's figures summed, for the
// metrics.
type CollectionTotals struct {
	Collections  int
	Vectors      int
	IndexBacklog int
	WALBytes     int64
	// LastCheckpoint is the newest snapshot's time (zero: none).
	LastCheckpoint time.Time
}

// CollectionTotals sums every open collection's count, index backlog and
// log size, and finds the newest checkpoint. It never loads one.
func (db *DB) CollectionTotals() CollectionTotals {
	hs := db.handles()
	t := CollectionTotals{Collections: len(hs)}
	for _, h := range hs {
		t.Vectors += h.Count()
		t.IndexBacklog += h.IndexBacklog()
		t.WALBytes += h.LogBytes()
		if at := h.LastCheckpoint(); at.After(t.LastCheckpoint) {
			t.LastCheckpoint = at
		}
	}
	return t
}

// ResidencyTotals reports the budget and the collections in memory. It
// never loads one.
func (db *DB) ResidencyTotals() ResidencyTotals {
	hs := db.handles()
	t := db.residencyCounts(hs)
	t.ResidentBytes = residentBytes(hs)
	if db.cfg.Tier != nil {
		t.CacheBytes = db.cacheBytes(hs)
	}
	return t
}

// ResidencyCounts is ResidencyTotals without ResidentBytes and
// CacheBytes: those ask every resident collection for its memory and stat
// the cached snapshots, which a monitor that shows only the counts (akidb
// top, at every refresh) need not pay for.
func (db *DB) ResidencyCounts() ResidencyTotals { return db.residencyCounts(db.handles()) }

func (db *DB) residencyCounts(hs []*Handle) ResidencyTotals {
	t := ResidencyTotals{Budget: db.memoryBudget(), EvictAfter: db.evictAfter(), Collections: len(hs)}
	for _, h := range hs {
		r := &h.res
		r.mu.Lock()
		if r.resident() {
			t.Resident++
		}
		if r.state == LoadUnavailable {
			t.Unavailable++
		}
		r.mu.Unlock()
	}
	if db.cfg.Tier != nil {
		t.CacheLimit = db.cfg.Tier.CacheBytes
	}
	return t
}

// ResidencyReport says what one round of the residency loop did.
type ResidencyReport struct {
	Evict EvictReport
	// Retried counts unavailable collections whose load was started again.
	Retried int
	Cache   CacheReport
}

// RunResidencyOnce runs one round of the residency loop: the memory
// budget, the retry of unavailable collections that are due, and the
// bound of the s3-only cache. Tests call it instead of the loop.
func (db *DB) RunResidencyOnce(ctx context.Context) ResidencyReport {
	var rep ResidencyReport
	rep.Evict = db.EvictOnce(ctx)
	rep.Retried = db.retryUnavailable()
	rep.Cache = db.EnforceCacheOnce()
	return rep
}

// retryUnavailable starts the loads of unavailable collections whose next
// attempt is due (it does not wait for them).
func (db *DB) retryUnavailable() int {
	n := 0
	now := db.now()
	for _, h := range db.handles() {
		r := &h.res
		r.mu.Lock()
		if r.state == LoadUnavailable && !r.closed && !now.Before(r.retryAt) {
			h.startLoadLocked(now)
			n++
		}
		r.mu.Unlock()
	}
	return n
}

// DefaultResidencyInterval is TierConfig.ResidencyInterval's default.
const DefaultResidencyInterval = time.Second

// startResidency runs the residency loop until Close.
func (db *DB) startResidency() {
	every := db.cfg.Tier.ResidencyInterval
	if every == 0 {
		every = DefaultResidencyInterval
	}
	db.bg.Add(1)
	go func() {
		defer db.bg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-db.bgCtx.Done():
				return
			case <-tick.C:
			case <-db.resKick:
			}
			db.RunResidencyOnce(db.bgCtx)
		}
	}()
}

// kickResidency asks the residency loop to run soon (after a load: the
// budget may be exceeded now). It never blocks.
func (db *DB) kickResidency() {
	select {
	case db.resKick <- struct{}{}:
	default:
	}
}
