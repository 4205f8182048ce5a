package tier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/wal"
)

// Tier ships collections with the memory-s3 policy to one object store
// and runs the dead-letter queue's retry worker. The engine makes one per
// data directory when a store is configured, registers each memory-s3
// collection, tells it about checkpoints, and asks it before deleting a
// snapshot or log segment (KeepLogFrom, HoldsSnapshot). All its work runs
// on its own goroutines (Start) or in the caller of ShipOnce and the DLQ's
// RunOnce (tests, operator requests); none of it runs inside a write or a
// checkpoint's pause.
type Tier struct {
	cfg     Config
	log     *slog.Logger
	store   ObjectStore
	breaker *Breaker
	meta    *meta.Store
	dlq     *DLQ

	mu   sync.Mutex
	cols map[string]*colState // by collection id

	kick    chan struct{}
	runOnce sync.Once
	stop    context.CancelFunc
	ctx     context.Context
	wg      sync.WaitGroup
}

// New returns a Tier; Start runs its background loops.
func New(cfg Config) (*Tier, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Tier{cfg: cfg, log: cfg.Logger.With("store", cfg.Store.Name()), store: cfg.Store, meta: cfg.Meta,
		cols: map[string]*colState{}, kick: make(chan struct{}, 1)}
	bc := cfg.Breaker
	user := bc.OnStateChange
	bc.OnStateChange = func(from, to BreakerState, cause error) {
		if to == BreakerOpen {
			t.log.Warn("object store circuit breaker opened: uploads go to the dead-letter queue", "from", from.String(), "err", cause)
		} else {
			t.log.Info("object store circuit breaker", "from", from.String(), "to", to.String())
		}
		if user != nil {
			user(from, to, cause)
		}
	}
	t.breaker = NewBreaker(bc)
	t.dlq = &DLQ{t: t}
	t.ctx, t.stop = context.WithCancel(context.Background())
	return t, nil
}

// Breaker is the store's circuit breaker.
func (t *Tier) Breaker() *Breaker { return t.breaker }

// DLQ is the dead-letter queue's worker.
func (t *Tier) DLQ() *DLQ { return t.dlq }

// Store is the object store.
func (t *Tier) Store() ObjectStore { return t.store }

// Config is the configuration in force (defaults filled in).
func (t *Tier) Config() Config { return t.cfg }

// Start runs the ship loop (every ShipInterval, and soon after a
// checkpoint) and the retry worker (every DLQRetryInterval).
func (t *Tier) Start() {
	t.runOnce.Do(func() {
		t.wg.Add(2)
		go t.shipLoop()
		go t.dlqLoop()
	})
}

// Close stops the loops, cancelling uploads in flight (what they did not
// finish is shipped by the next start: nothing is deleted locally before
// it is confirmed).
func (t *Tier) Close() {
	t.stop()
	t.wg.Wait()
}

func (t *Tier) shipLoop() {
	defer t.wg.Done()
	ship := time.NewTicker(t.cfg.ShipInterval)
	defer ship.Stop()
	sample := time.NewTicker(min(time.Second, t.cfg.ShipInterval))
	defer sample.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-sample.C:
			t.sampleAll()
		case <-ship.C:
			_ = t.ShipOnce(t.ctx)
		case <-t.kick:
			_ = t.ShipOnce(t.ctx)
		}
	}
}

func (t *Tier) dlqLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(t.cfg.DLQRetryInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
			if _, err := t.dlq.RunOnce(t.ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.log.Error("dead-letter queue retry run failed", "err", err)
			}
		}
	}
}

// Kick asks the ship loop to run soon (the engine calls it after a
// checkpoint); it never blocks.
func (t *Tier) Kick() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// Register starts shipping a collection. It loads the collection's queued
// uploads from the DLQ and its copy of the last manifest, and removes
// staged files no entry refers to (left by a crash: their records are
// still in the log). Registering a registered collection replaces its
// source.
func (t *Tier) Register(src Source) error {
	info := src.Info()
	c := &colState{src: src, fs: t.cfg.FS, info: info, prefix: CollectionPrefix(t.cfg.Prefix, info.TenantName, info.Name, info.ID),
		tierDir: filepath.Join(src.Dir(), "tier"), held: map[uint64]bool{}}
	c.ctx, c.cancel = context.WithCancel(t.ctx)
	// Made durable in its parent: a power cut must not take the directory
	// of files a DLQ entry names, or of the manifest's copy.
	if err := wal.MkdirAllDurable(c.fs, c.stagingDir(), 0o700); err != nil {
		return fmt.Errorf("tier: register %s: %w", info.Name, err)
	}
	man, err := readLocalManifest(c.fs, c.manifestCopy())
	if err != nil {
		t.log.Warn("tier: local copy of the manifest unreadable; the store's is read before anything is shipped", "collection", info.Name, "err", err)
	}
	if man != nil && man.CollectionID == info.ID {
		c.man = man
	}
	entries, err := t.collectionDLQ(context.Background(), info.ID)
	if err != nil {
		return fmt.Errorf("tier: register %s: %w", info.Name, err)
	}
	keep := map[string]bool{}
	for _, e := range entries {
		if e.Operation != meta.DLQUpload {
			continue
		}
		a := artifactFromEntry(c, e)
		c.queue = append(c.queue, a)
		keep[a.path] = true
	}
	if err := removeOrphanStaging(c.fs, c.stagingDir(), keep); err != nil {
		return fmt.Errorf("tier: register %s: %w", info.Name, err)
	}
	c.sortQueue()
	c.updateHolds()
	t.mu.Lock()
	if old := t.cols[info.ID]; old != nil {
		old.cancel()
	}
	t.cols[info.ID] = c
	t.mu.Unlock()
	t.Kick()
	return nil
}

// Unregister stops shipping a collection (dropped, or its policy changed
// to memory): work in flight for it is cancelled and awaited. Its objects
// in the store are left as they are.
func (t *Tier) Unregister(id string) {
	t.mu.Lock()
	c := t.cols[id]
	delete(t.cols, id)
	t.mu.Unlock()
	if c == nil {
		return
	}
	c.cancel()
	c.mu.Lock()
	c.removed = true
	c.mu.Unlock()
}

// Registered reports whether the collection is shipped.
func (t *Tier) Registered(id string) bool {
	return t.col(id) != nil
}

func (t *Tier) col(id string) *colState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cols[id]
}

func (t *Tier) colList() []*colState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*colState, 0, len(t.cols))
	for _, c := range t.cols {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].info.ID < out[j].info.ID })
	return out
}

// KeepLogFrom is the lowest log sequence number a registered collection
// must keep locally: everything after the manifest's ShippedSeq. 0 means
// no constraint (the collection is not shipped).
func (t *Tier) KeepLogFrom(id string) uint64 {
	c := t.col(id)
	if c == nil {
		return 0
	}
	c.hold.Lock()
	defer c.hold.Unlock()
	return c.shipped + 1
}

// HoldsSnapshot reports whether the local snapshot at seq must not be
// deleted: it is queued for upload (staged, in the DLQ, or uploaded but
// not yet in a manifest).
func (t *Tier) HoldsSnapshot(id string, seq uint64) bool {
	c := t.col(id)
	if c == nil {
		return false
	}
	c.hold.Lock()
	defer c.hold.Unlock()
	return c.held[seq]
}

// ShipOnce runs one pass over every registered collection, Workers at a
// time, and returns their errors joined. A pass stages the newest snapshot
// and the durable log not yet shipped, uploads what is staged (or queues
// it in the DLQ), writes the manifest if anything new is confirmed, and
// applies the retention.
func (t *Tier) ShipOnce(ctx context.Context) error {
	cols := t.colList()
	sem := make(chan struct{}, t.cfg.Workers)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, c := range cols {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := t.pass(ctx, c); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s/%s: %w", c.info.TenantName, c.info.Name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Ship runs one pass over one collection (ErrNotRegistered if it is not
// shipped).
func (t *Tier) Ship(ctx context.Context, id string) error {
	c := t.col(id)
	if c == nil {
		return ErrNotRegistered
	}
	return t.pass(ctx, c)
}

// ErrNotRegistered: the collection is not shipped by this tier.
var ErrNotRegistered = errors.New("collection is not shipped to object storage")

func (t *Tier) sampleAll() {
	for _, c := range t.colList() {
		c.sample(t.cfg.Clock.Now())
	}
}
