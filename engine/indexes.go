package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/payload"
)

// Payload indexes (engine/payload) on a collection's metadata fields.
//
// The catalog (meta.payload_indexes) says which indexes a collection should
// have; the collection keeps them in memory, in its snapshots (ready ones)
// and up to date with every publish, delete and vacuum. Creating one on a
// live collection declares it (from then on every write updates it) and
// builds it from the existing records in the background, a batch of nodes
// at a time under the collection's read lock, so writers wait at most one
// batch; the planner uses it once it is ready. Opening a collection
// reconciles the snapshot's indexes with the catalog before the log is
// replayed: an index the catalog no longer has is dropped, one the
// snapshot lacks (created after it, or interrupted by a crash) is built
// from the snapshot's records, and the replay then keeps all of them up to
// date.

// IndexInfo describes one payload index.
type IndexInfo struct {
	Field string `json:"field"`
	// Type is keyword, integer or float.
	Type string `json:"type"`
	// State is building (being filled with the existing records; not used
	// by queries yet), ready, or evicted (IndexEvicted: the collection is
	// not in memory, and the counts below are zero until it is loaded).
	State string `json:"state"`
	// Values is the number of distinct values indexed.
	Values int `json:"values"`
	// Records is the number of records whose field is present.
	Records int `json:"records"`
	// Unindexed counts records whose field holds values outside the
	// index's type (queries check those records by reading them).
	Unindexed   int   `json:"unindexed"`
	MemoryBytes int64 `json:"memory_bytes"`
}

func indexInfo(in payload.Info) IndexInfo {
	return IndexInfo{Field: in.Field, Type: in.Type.String(), State: in.State.String(),
		Values: in.Values, Records: in.Records, Unindexed: in.Unindexed, MemoryBytes: in.MemoryBytes}
}

// indexBatch is how many node slots a build indexes per hold of the
// collection's read lock: about a millisecond of work.
const indexBatch = 4096

// indexBuilds tracks a collection's background index builds.
type indexBuilds struct {
	mu      sync.Mutex
	running map[string]chan struct{} // field -> closed to stop its build
	wg      sync.WaitGroup
	// afterBatch, set by tests, runs between two batches of a build;
	// batch, if set, replaces indexBatch.
	afterBatch func(field string)
	batch      int
}

// parseIndex validates a field name and type for a new index.
func parseIndex(field, typ string) (payload.Type, error) {
	if err := payload.ValidateField(field); err != nil {
		return 0, invalid("field", "%v", errors.Unwrap(err))
	}
	t, err := payload.ParseType(typ)
	if err != nil {
		return 0, invalid("type", "%v", err)
	}
	return t, nil
}

// ValidateIndexes checks indexes declared with a new collection, field ->
// type.
func ValidateIndexes(indexes map[string]string) error {
	if len(indexes) > payload.MaxIndexes {
		return invalid("indexes", "%d indexes, a collection has at most %d", len(indexes), payload.MaxIndexes)
	}
	for _, f := range sortedKeys(indexes) {
		if _, err := parseIndex(f, indexes[f]); err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				ve.Field = "indexes[" + f + "]"
			}
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// declareIndex adds an empty, building index that writes keep up to date.
func (c *Collection) declareIndex(field string, t payload.Type) error {
	err := c.idx.Declare(field, t)
	switch {
	case errors.Is(err, payload.ErrExists):
		return fmt.Errorf("%w: %w", ErrAlreadyExists, err)
	case err != nil:
		return invalid("field", "%v", errors.Unwrap(err))
	}
	return nil
}

// buildIndex fills a declared index with the records published before it
// was declared, then marks it ready. It stops early, returning false, when
// stop is closed or the index is dropped. A vacuum renumbers the nodes
// (the index's bitmaps with them): the build then starts over, and adding
// a record again is harmless.
func (c *Collection) buildIndex(field string, stop <-chan struct{}) bool {
	var gen uint32
	started := false
	for from := 0; ; {
		select {
		case <-stop:
			return false
		default:
		}
		c.mu.RLock()
		if !started || c.generation != gen {
			from, gen, started = 0, c.generation, true
		}
		tab := c.slots.Load()
		to := min(from+cmp.Or(c.builds.batch, indexBatch), tab.nodes())
		// Writers are held off (c.mu) while the batch is indexed, so
		// every record added is live until the batch is done; records
		// published from now on are indexed by their publication.
		ok := c.idx.Fill(field, func(add func(uint32, []byte)) {
			for n := from; n < to; n++ {
				if s := tab.get(uint32(n)); s != nil {
					add(uint32(n), metaBytesOf(s.meta))
				}
			}
		})
		done := to >= tab.nodes()
		c.mu.RUnlock()
		if !ok {
			return false
		}
		if done {
			return c.idx.MarkReady(field)
		}
		from = to
		if hook := c.builds.afterBatch; hook != nil {
			hook(field)
		}
	}
}

// CreateIndex adds an index on field of type typ (keyword, integer or
// float) to an in-memory collection and builds it before it returns.
func (c *Collection) CreateIndex(field, typ string) error {
	t, err := parseIndex(field, typ)
	if err != nil {
		return err
	}
	if err := c.declareIndex(field, t); err != nil {
		return err
	}
	c.buildIndex(field, nil)
	return nil
}

// DropIndex removes the index on field; ErrNotFound if there is none.
func (c *Collection) DropIndex(field string) error {
	c.builds.stop(field)
	if !c.idx.Drop(field) {
		return fmt.Errorf("index on %q: %w", field, ErrNotFound)
	}
	return nil
}

// Indexes describes the collection's payload indexes, by field.
func (c *Collection) Indexes() []IndexInfo {
	infos := c.idx.Infos()
	out := make([]IndexInfo, len(infos))
	for i, in := range infos {
		out[i] = indexInfo(in)
	}
	return out
}

// index describes the index on field.
func (c *Collection) index(field string) (IndexInfo, bool) {
	for _, in := range c.Indexes() {
		if in.Field == field {
			return in, true
		}
	}
	return IndexInfo{}, false
}

// startBuild runs buildIndex in the background; stop (or stopAll) ends it.
func (c *Collection) startBuild(field string) {
	b := &c.builds
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running == nil {
		b.running = map[string]chan struct{}{}
	}
	stop := make(chan struct{})
	b.running[field] = stop
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		c.buildIndex(field, stop)
		b.mu.Lock()
		if b.running[field] == stop {
			delete(b.running, field)
		}
		b.mu.Unlock()
	}()
}

// stop ends field's build, if one runs, without waiting for it.
func (b *indexBuilds) stop(field string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch, ok := b.running[field]; ok {
		close(ch)
		delete(b.running, field)
	}
}

// stopAll ends every build and waits for them.
func (b *indexBuilds) stopAll() {
	b.mu.Lock()
	for f, ch := range b.running {
		close(ch)
		delete(b.running, f)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// waitBuilds blocks until no build runs (tests, benchmarks).
func (c *Collection) waitBuilds() { c.builds.wg.Wait() }

// CreateIndex declares an index on field of type typ in the catalog and
// the collection and builds it in the background: the returned info says
// building, and Indexes says ready once queries use it. Writes go on
// meanwhile and are indexed as they are published. A field that already
// has an index is ErrAlreadyExists.
func (h *Handle) CreateIndex(ctx context.Context, field, typ string) (IndexInfo, error) {
	t, err := parseIndex(field, typ)
	if err != nil {
		return IndexInfo{}, err
	}
	// A request like any other: an evicted collection is loaded first
	// (up to ctx's deadline), and stays in memory until the build is
	// declared.
	if err := h.pin(ctx); err != nil {
		return IndexInfo{}, err
	}
	defer h.unpin()
	h.indexMu.Lock()
	defer h.indexMu.Unlock()
	if h.closed.Load() || h.closing.Load() {
		return IndexInfo{}, fmt.Errorf("collection %s: %w", h.info.Name, ErrClosed)
	}
	if typ, _, ok := h.c.idx.Has(field); ok {
		return IndexInfo{}, fmt.Errorf("collection %s already has a %s index on %q (drop it first to change its type): %w", h.info.Name, typ, field, ErrAlreadyExists)
	}
	if n := len(h.c.idx.Infos()); n >= payload.MaxIndexes {
		return IndexInfo{}, invalid("field", "collection %s has %d indexes, the most a collection may have (every write updates each): drop one first", h.info.Name, n)
	}
	if _, err := h.db.meta.InsertPayloadIndex(ctx, meta.PayloadIndex{CollectionID: h.info.ID, Field: field, Type: t.String()}); err != nil {
		return IndexInfo{}, translateMetaErr(err)
	}
	if err := h.c.declareIndex(field, t); err != nil {
		// Cannot happen (field and count checked above, under
		// indexMu); undo the row.
		_ = h.db.meta.DeletePayloadIndex(context.WithoutCancel(ctx), h.info.ID, field)
		return IndexInfo{}, err
	}
	h.c.startBuild(field)
	info, _ := h.c.index(field)
	return info, nil
}

// DropIndex removes the index on field from the catalog and the
// collection; ErrNotFound if there is none. A build in progress stops.
func (h *Handle) DropIndex(ctx context.Context, field string) error {
	if err := h.pin(ctx); err != nil {
		return err
	}
	defer h.unpin()
	h.indexMu.Lock()
	defer h.indexMu.Unlock()
	if err := h.db.meta.DeletePayloadIndex(ctx, h.info.ID, field); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("collection %s has no index on %q: %w", h.info.Name, field, ErrNotFound)
		}
		return translateMetaErr(err)
	}
	// The catalog row is gone: even if the process dies now, the next
	// open drops the index from whatever snapshot still has it.
	if err := h.c.DropIndex(field); err != nil {
		return err
	}
	return nil
}

// IndexEvicted is the state Indexes reports for the indexes of a
// collection that is not in memory: the catalog's list, without counts;
// the next load brings them back (building those its snapshot lacks).
const IndexEvicted = "evicted"

// Indexes describes the collection's payload indexes. It never loads the
// collection: while it is evicted the catalog lists them (IndexEvicted).
func (h *Handle) Indexes() []IndexInfo {
	if h.hold() {
		defer h.unpin()
		return h.c.Indexes()
	}
	rows, err := h.db.meta.ListPayloadIndexes(context.Background(), h.info.ID)
	if err != nil {
		h.db.log.Warn("listing the payload indexes of an evicted collection", "collection", h.info.Name, "err", err)
		return nil
	}
	out := make([]IndexInfo, len(rows))
	for i, r := range rows {
		out[i] = IndexInfo{Field: r.Field, Type: r.Type, State: IndexEvicted}
	}
	return out
}

// WaitIndexBuilds blocks until no index build runs (tests, benchmarks);
// at once if the collection is not in memory.
func (h *Handle) WaitIndexBuilds() {
	if h.hold() {
		defer h.unpin()
		h.c.waitBuilds()
	}
}

// reconcileIndexes makes c's indexes, h's state as a snapshot just gave
// it (at an open, or a load after an eviction), those of the catalog,
// before the log is replayed: it drops the ones the catalog does not list
// (or lists with another type) and builds the missing ones from the
// loaded records.
func (db *DB) reconcileIndexes(ctx context.Context, h *Handle, c *Collection) error {
	rows, err := db.meta.ListPayloadIndexes(ctx, h.info.ID)
	if err != nil {
		return err
	}
	want := make(map[string]string, len(rows))
	for _, r := range rows {
		want[r.Field] = r.Type
	}
	for _, in := range c.idx.Infos() {
		if want[in.Field] != in.Type.String() {
			c.idx.Drop(in.Field)
		}
	}
	for _, r := range rows {
		if _, _, ok := c.idx.Has(r.Field); ok {
			continue
		}
		t, err := payload.ParseType(r.Type)
		if err != nil {
			return fmt.Errorf("catalog index on %q: %w", r.Field, err)
		}
		if err := c.declareIndex(r.Field, t); err != nil {
			return fmt.Errorf("catalog index on %q: %w", r.Field, err)
		}
		c.buildIndex(r.Field, nil)
		db.log.Info("built payload index", "collection", h.info.Name, "tenant", h.info.TenantID, "field", r.Field, "type", r.Type)
	}
	return nil
}

// CheckIndexes rebuilds the collection's ready indexes from its records
// and reports how the kept ones differ, or nil when they agree. It holds
// writers off while it reads (one pass over the records).
func (c *Collection) CheckIndexes() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	tab := c.slots.Load()
	fresh := c.idx.Rebuilt(func(yield func(uint32, []byte) bool) {
		for n := 0; n < tab.nodes(); n++ {
			if s := tab.get(uint32(n)); s != nil && !yield(uint32(n), metaBytesOf(s.meta)) {
				return
			}
		}
	})
	if err := c.idx.Equal(fresh); err != nil {
		return fmt.Errorf("collection %s: payload indexes disagree with the records: %w", c.cfg.Name, err)
	}
	return nil
}
