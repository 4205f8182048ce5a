package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/akidb/akidb/engine/filter"
	"github.com/akidb/akidb/engine/mapped"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/record"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/wal"
)

// CollectionInfo is a collection's catalog entry.
type CollectionInfo struct {
	ID        string
	TenantID  string
	Name      string
	Config    CollectionConfig
	CreatedAt time.Time
	// TierPolicy is memory, memory-s3 or s3-only (tiering.go).
	TierPolicy string
	// LoadState is where the collection's state is now (residency.go).
	LoadState LoadState
}

// Handle is a durable collection: every write goes through its log before
// it is applied and acknowledged. Reads go straight to the in-memory
// collection.
type Handle struct {
	db   *DB
	info CollectionInfo
	dir  string
	c    *Collection
	wal  *wal.Log

	// sinceCheckpoint counts records and log bytes since the last snapshot.
	sinceRecords atomic.Int64
	sinceBytes   atomic.Int64
	ckptQueued   atomic.Bool
	ckptMu       sync.Mutex // one checkpoint at a time
	// closing is set when close begins: a running checkpoint stops at its
	// next step, and close waits for it (ckptMu) before the log closes and
	// a drop removes the directory.
	closing atomic.Bool
	closed  atomic.Bool
	// writers counts Upsert and Delete calls past validation, for the log's
	// commit delay (wal.Options.Writers).
	writers atomic.Int64
	// snapshotBytes is the size of the snapshots on disk, as of the last
	// checkpoint (or the open).
	snapshotBytes atomic.Int64
	// vectorsBytes is the size of the vectors files (originals on disk)
	// as of the last checkpoint or open.
	vectorsBytes atomic.Int64
	// coldDisk is DiskBytes while the collection is evicted.
	coldDisk coldDiskBytes
	// compact asks the next checkpoint to vacuum whatever tombstones
	// there are, not only past VacuumRatio (RequestCompaction).
	compact atomic.Bool
	// indexMu serialises creating and dropping payload indexes.
	indexMu sync.Mutex
	// tierPolicy (a string) can change while the collection is open;
	// policyMu orders the changes (tiering.go).
	tierPolicy atomic.Value
	policyMu   sync.Mutex
	// lastCheckpoint is when the newest snapshot was written (unix
	// nanoseconds; 0: never): set by each checkpoint that writes one, and
	// at open from the snapshot the collection was loaded from.
	lastCheckpoint atomic.Int64
	// quant is the quantization settings (*Quantization): the catalog's,
	// kept here so that they read and change while the collection is
	// evicted; a load (install) gives them to the collection.
	quant atomic.Pointer[Quantization]
	// res is the load state and the references that keep c and wal in
	// memory (residency.go): c and wal are nil while the collection is
	// evicted, and are read only under a pin or a hold.
	res residency
}

func (h *Handle) walDir() string      { return filepath.Join(h.dir, "wal") }
func (h *Handle) vectorsDir() string  { return filepath.Join(h.dir, "vectors") }
func (h *Handle) snapshotDir() string { return filepath.Join(h.dir, "snapshots") }

// Info returns the catalog entry.
func (h *Handle) Info() CollectionInfo {
	i := h.info
	i.Config.Quantization = h.quantization()
	i.TierPolicy = h.TierPolicy()
	h.res.mu.Lock()
	i.LoadState = h.res.state
	h.res.mu.Unlock()
	return i
}

// Collection exposes the in-memory collection for reads, loading it if
// it was evicted. The object stays valid after an eviction (it is only
// dropped from the handle), but holds no later writes: keep a reference
// (Acquire) while using it.
func (h *Handle) Collection() *Collection {
	if err := h.pin(context.Background()); err != nil {
		return nil
	}
	defer h.unpin()
	return h.c
}

// Stats and Count never load the collection: while it is evicted they
// report its figures as of when it left memory (Facts). DiskBytes is
// always what its files hold now.
func (h *Handle) Stats() Stats {
	if h.hold() {
		defer h.unpin()
		st := h.c.Stats()
		st.DiskBytes = h.DiskBytes()
		return st
	}
	cfg, f := h.info.Config, h.Facts()
	return Stats{Name: cfg.Name, Dimension: cfg.Dimension, Metric: cfg.Metric.String(), M: cfg.M, EfConstruction: cfg.EfConstruction,
		Count: f.Count, Deleted: f.Deleted, MemoryBytes: f.MemoryBytes, AppliedSeq: f.AppliedSeq, DiskBytes: h.DiskBytes(),
		Quantization: h.evictedQuantStatus()}
}

// evictedQuantStatus is the quantization status of a collection that is
// not in memory: the one it had when it left (its snapshot holds that
// state), or, for one not loaded since the start, not_loaded (off when
// it is not quantized).
func (h *Handle) evictedQuantStatus() QuantizationStatus {
	h.res.mu.Lock()
	st := h.res.quant
	h.res.mu.Unlock()
	if st.State != "" {
		return st
	}
	if h.quantization().Type == QuantNone {
		return QuantizationStatus{State: QuantStateOff}
	}
	return QuantizationStatus{State: QuantStateNotLoaded}
}

// Count is the number of live records (of an evicted collection, as it
// left). It does not compute the rest of Facts, which a scrape of the
// totals at every refresh of a monitor need not pay for.
func (h *Handle) Count() int {
	if h.hold() {
		defer h.unpin()
		return h.c.Count()
	}
	return h.Facts().Count
}

// Get and Scroll read the in-memory state, loading the collection first
// if it was evicted (without a deadline: use Acquire to bound it). Search
// does too, bounded by ctx: a load or a scan past its deadline stops.
func (h *Handle) Get(id string) (Record, error) {
	if err := h.pin(context.Background()); err != nil {
		return Record{}, err
	}
	defer h.unpin()
	return h.c.Get(id)
}
func (h *Handle) Search(ctx context.Context, req SearchRequest) (SearchResult, error) {
	if err := h.pin(ctx); err != nil {
		return SearchResult{}, err
	}
	defer h.unpin()
	return h.c.Search(ctx, req)
}
func (h *Handle) Scroll(cursor string, limit int, withVectors bool) (ScrollPage, error) {
	if err := h.pin(context.Background()); err != nil {
		return ScrollPage{}, err
	}
	defer h.unpin()
	return h.c.Scroll(cursor, limit, withVectors)
}

// Upsert logs the batch, waits for the fsync that covers it (per the sync
// policy), applies it and only then returns. A validation error changes
// nothing; a log error leaves the collection read-only (fail-stop). recs
// is not changed.
func (h *Handle) Upsert(ctx context.Context, recs []Record) error {
	return h.upsert(ctx, recs, 0, false)
}

// UpsertOwned is Upsert for a caller that gives recs up: the batch is
// written from recs itself, its vectors normalised in place and each
// record's metadata JSON dropped once it is logged, so the write holds
// the batch once, not in several copies (the serving layer decodes a
// request into recs for this call only). recs must not be used after the
// call, whatever its outcome.
func (h *Handle) UpsertOwned(ctx context.Context, recs []Record) error {
	return h.upsert(ctx, recs, 0, true)
}

// upsert is Upsert, UpsertOwned and UpsertBulk: with linkers == 0 the
// vectors are linked into the graph in the background after the
// acknowledgement (stage.go); with linkers > 0 they are linked by that
// many goroutines before the batch is published.
//
// What a large batch holds at its peak is its vectors and metadata as
// given, their canonical text (what the collection keeps and the log
// holds, metadata.go), the log record, then the graph's copy of the
// vectors: the log record is built straight from the records
// (record.EncodeUpsertRows) into a frame the log writes as it is
// (wal.SubmitFrame), and with owned, the metadata as given goes once it
// is canonical and the vectors once the graph has its copy.
func (h *Handle) upsert(ctx context.Context, recs []Record, linkers int, owned bool) error {
	if err := h.pin(ctx); err != nil {
		return err
	}
	defer h.unpin()
	b, raw, err := h.c.prepareRecords(recs, owned)
	if err != nil {
		return err
	}
	if err := canonicalizeMetadata(b, raw, owned); err != nil {
		return err
	}
	dim := h.c.cfg.Dimension
	frame, err := record.EncodeUpsertRows(make([]byte, wal.FrameHeaderSize), dim, len(b.Records), func(i int) (string, []float32, []byte) {
		r := &b.Records[i]
		return r.ID, r.Vector, raw[i]
	})
	if err != nil {
		return fmt.Errorf("collection %s: %w", h.info.Name, err)
	}
	payloadBytes := len(frame) - wal.FrameHeaderSize
	clear(raw) // the frame holds the text now; b.meta keeps it for the collection
	if err := ctx.Err(); err != nil {
		return err
	}
	h.writers.Add(1)
	defer h.writers.Add(-1)
	if linkers == 0 {
		// Wait for room in the staged backlog before entering the log,
		// so writers slow to the pace at which the graph absorbs them.
		h.c.waitStageRoom(len(b.Records))
	}
	end := h.c.BeginWrite()
	defer end()
	// Queue the record, reserve the vectors in the arena while the log
	// writes and fsyncs it, then publish. Linking the vectors into the
	// graph (most of the work) happens in the background after the
	// acknowledgement; until then searches scan them exactly (stage.go).
	// A bulk upsert links them while the log syncs instead. While the
	// disk is full, reserve only once the log has taken the record: a
	// refused write then leaves nothing in the arena.
	stage := func() indexedBatch {
		ib := h.c.stageUpsert(b)
		if ib.err == nil && linkers > 0 {
			h.c.linkParallel(ib.nodes, linkers)
			ib.staged = false
		}
		if owned {
			// The graph has its copy; publishing needs ids and metadata.
			for i := range b.Records {
				b.Records[i].Vector = nil
			}
		}
		return ib
	}
	logFirst := h.wal.NoSpace()
	seq, pending, err := h.submitFrame(record.TypeUpsert, frame)
	frame = nil // the log's now
	if err != nil {
		return err
	}
	var ib indexedBatch
	if !logFirst {
		ib = stage()
	}
	if err := h.await(pending); err != nil {
		if !logFirst && ib.err == nil {
			h.c.discardUpsert(ib)
		}
		return err
	}
	if logFirst {
		ib = stage()
	}
	if ib.err != nil {
		// The batch is in the log but not in memory, so the two disagree
		// until a restart replays it: stop writes rather than build on
		// that. (Validation has already passed, so only a resource limit
		// such as a full graph gets here.)
		err := fmt.Errorf("collection %s is read-only: a logged write could not be applied: %w", h.info.Name, ib.err)
		h.c.Fail(err)
		return err
	}
	if err := h.c.publishUpsert(seq, ib); err != nil {
		return err
	}
	h.wrote(len(b.Records), payloadBytes)
	return nil
}

// WaitIndexed blocks until every acknowledged upsert is linked into the
// graph, that is until background indexing has caught up. Searches do not
// need it (they scan what is not linked yet); benchmarks and tests that
// compare graph results use it.
func (h *Handle) WaitIndexed() {
	if h.hold() {
		defer h.unpin()
		h.c.waitLinked()
	}
}

// LogBytes is the size of the collection's write-ahead log up to its last
// record: what a restart would replay at most. 0 while the collection is
// not in memory (it was checkpointed when it left, so a restart replays
// nothing of it).
func (h *Handle) LogBytes() int64 {
	if !h.hold() {
		return 0
	}
	defer h.unpin()
	return h.wal.Bytes()
}

// LastCheckpoint is when the collection's newest snapshot was written (the
// zero time if it has none).
func (h *Handle) LastCheckpoint() time.Time {
	if ns := h.lastCheckpoint.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// IndexBacklog returns how many acknowledged vectors are not linked into
// the graph yet (searches scan them exactly until they are); 0 while the
// collection is not in memory.
func (h *Handle) IndexBacklog() int {
	if !h.hold() {
		return 0
	}
	defer h.unpin()
	return h.c.stagedLen()
}

// Delete logs and applies the deletion of ids, returning how many existed.
func (h *Handle) Delete(ctx context.Context, ids []string) (int, error) {
	if err := h.pin(ctx); err != nil {
		return 0, err
	}
	defer h.unpin()
	b, err := h.c.PrepareDelete(ids)
	if err != nil {
		return 0, err
	}
	payload, err := record.EncodeDelete(nil, record.Delete{IDs: b.IDs})
	if err != nil {
		return 0, fmt.Errorf("collection %s: %w", h.info.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	h.writers.Add(1)
	defer h.writers.Add(-1)
	end := h.c.BeginWrite()
	seq, err := h.append(record.TypeDelete, payload)
	n := 0
	if err == nil {
		n, err = h.c.ApplyDelete(seq, b)
	}
	end()
	if err != nil {
		return 0, err
	}
	h.wrote(len(b.IDs), len(payload))
	return n, nil
}

// DeleteWhere deletes the records matching f (at the moment it runs;
// records written concurrently may or may not be included) and returns
// how many were deleted.
func (h *Handle) DeleteWhere(ctx context.Context, f *filter.Filter) (int, error) {
	if err := h.pin(ctx); err != nil {
		return 0, err
	}
	defer h.unpin()
	ids, err := h.c.MatchingIDs(ctx, f)
	if err != nil {
		return 0, err
	}
	total := 0
	for start := 0; start < len(ids); start += 1000 {
		n, err := h.Delete(ctx, ids[start:min(start+1000, len(ids))])
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// append writes one record to the log and waits until it is covered by
// the sync policy.
func (h *Handle) append(typ byte, payload []byte) (uint64, error) {
	seq, pending, err := h.submit(typ, payload)
	if err != nil {
		return 0, err
	}
	return seq, h.await(pending)
}

// submit queues one record in the log without waiting for it.
func (h *Handle) submit(typ byte, payload []byte) (uint64, wal.Pending, error) {
	return h.queue(func() (uint64, wal.Pending, error) { return h.wal.Submit(typ, payload) })
}

// submitFrame queues one record built in a frame (wal.SubmitFrame).
func (h *Handle) submitFrame(typ byte, frame []byte) (uint64, wal.Pending, error) {
	return h.queue(func() (uint64, wal.Pending, error) { return h.wal.SubmitFrame(typ, frame) })
}

func (h *Handle) queue(submit func() (uint64, wal.Pending, error)) (uint64, wal.Pending, error) {
	if h.closed.Load() {
		return 0, wal.Pending{}, fmt.Errorf("collection %s: %w", h.info.Name, ErrClosed)
	}
	seq, pending, err := submit()
	if err != nil {
		h.failIfLogFailed()
		return 0, wal.Pending{}, fmt.Errorf("collection %s: log: %w", h.info.Name, err)
	}
	return seq, pending, nil
}

// await waits for a submitted record. A record refused for lack of disk
// space is ErrNoSpace: the log gave its sequence number back and goes on,
// and so does the collection. A record whose commit failed holds a
// sequence number that will never be applied, so the collection is failed
// too and no later writer waits for it.
func (h *Handle) await(p wal.Pending) error {
	if err := p.Wait(); err != nil {
		if errors.Is(err, wal.ErrNoSpace) {
			return fmt.Errorf("collection %s: %w: %w", h.info.Name, ErrNoSpace, err)
		}
		if !h.failIfLogFailed() {
			h.c.Fail(fmt.Errorf("collection %s is read-only: a log write did not commit: %w", h.info.Name, err))
		}
		return fmt.Errorf("collection %s: log: %w", h.info.Name, err)
	}
	return nil
}

// failIfLogFailed fails the collection once the log has failed and reports
// whether it had.
func (h *Handle) failIfLogFailed() bool {
	werr := h.wal.Err()
	if werr != nil {
		h.c.Fail(fmt.Errorf("collection %s is read-only after a log failure: %w", h.info.Name, werr))
	}
	return werr != nil
}

func (h *Handle) wrote(records, bytes int) {
	r := h.sinceRecords.Add(int64(records))
	b := h.sinceBytes.Add(int64(bytes))
	cfg := h.db.cfg
	if (cfg.CheckpointRecords > 0 && r >= int64(cfg.CheckpointRecords)) || (cfg.CheckpointBytes > 0 && b >= cfg.CheckpointBytes) {
		if h.ckptQueued.CompareAndSwap(false, true) {
			h.db.ckpt.request(h)
		}
	}
}

// openCollection recovers a collection: newest intact snapshot, then the
// log after it.
func (db *DB) openCollection(row meta.Collection) (*Handle, error) {
	h, err := db.newHandle(row)
	if err != nil {
		return nil, err
	}
	ld, err := db.recoverCollection(h)
	if err != nil {
		return nil, err
	}
	h.install(loaded{c: ld.c, log: ld.log, replayed: ld.replayed, source: SourceLocal})
	return h, nil
}

// newHandle makes the handle of a catalog row, its state not loaded
// (evicted until install).
func (db *DB) newHandle(row meta.Collection) (*Handle, error) {
	cfg, err := configFromRow(row)
	if err != nil {
		return nil, err
	}
	mq, err := db.meta.GetCollectionQuantization(context.Background(), row.ID)
	if err != nil {
		return nil, err
	}
	if cfg.Quantization, err = quantizationFromMeta(mq); err != nil {
		return nil, err
	}
	h := &Handle{db: db, dir: db.collectionDir(row.ID), info: CollectionInfo{ID: row.ID, TenantID: row.TenantID, Name: row.Name, Config: cfg, CreatedAt: row.CreatedAt}}
	h.tierPolicy.Store(row.TierPolicy)
	h.quant.Store(&cfg.Quantization)
	h.res.state = LoadEvicted
	return h, nil
}

// recoverCollection reads h's state from its directory: the newest intact
// snapshot, then the log after it. It changes nothing of h.
func (db *DB) recoverCollection(h *Handle) (loaded, error) {
	start := time.Now()
	cfg := h.info.Config
	if err := snapshot.RemoveTemps(db.cfg.FS, h.snapshotDir()); err != nil {
		return loaded{}, err
	}
	c, err := db.loadNewestSnapshot(h, cfg, false)
	if err != nil {
		return loaded{}, err
	}
	recovered := false
	defer func() {
		if !recovered {
			_ = c.closeVectors() // the snapshot's vectors file, if it names one
		}
	}()
	if c.applied > 0 {
		if fi, err := db.cfg.FS.Stat(filepath.Join(h.snapshotDir(), snapshot.FileName(c.applied))); err == nil {
			h.lastCheckpoint.Store(fi.ModTime().UnixNano())
		}
	}
	// Jobs wait for the replay and for the state to be installed
	// (install): a job started by the first replayed write would
	// otherwise re-encode under it, and a load thrown away must leave
	// nothing running.
	c.configureQuant(h.quantization(), db.cfg.FS, h.vectorsDir(), db.log.With("collection", h.info.Name, "tenant", h.info.TenantID))
	if err := db.reconcileIndexes(context.Background(), h, c); err != nil {
		return loaded{}, fmt.Errorf("payload indexes: %w", err)
	}
	log, err := db.openLog(h, c.applied)
	if err != nil {
		return loaded{}, err
	}
	if log.LastSeq() < c.applied {
		// The snapshot is newer than the log's end: the log lost a tail
		// it had not fsynced (fsync=interval/none and a power cut) or was
		// repaired. Everything it holds is in the snapshot; set it aside
		// and start a log that continues after the snapshot, or new
		// writes would reuse sequence numbers the snapshot already has.
		_ = log.Close()
		dst := fmt.Sprintf("%s.superseded.%d", h.walDir(), time.Now().UnixNano())
		if err := db.cfg.FS.Rename(h.walDir(), dst); err != nil {
			return loaded{}, fmt.Errorf("set aside a log behind its snapshot: %w", err)
		}
		if err := syncDir(db.cfg.FS, h.dir); err != nil {
			return loaded{}, err
		}
		db.log.Warn("log ends before the newest snapshot; kept it aside and started a new one", "collection", h.info.Name, "log_last_seq", log.LastSeq(), "snapshot_seq", c.applied, "kept_as", dst)
		if log, err = db.openLog(h, c.applied); err != nil {
			return loaded{}, err
		}
	}
	if first := log.FirstSeq(); first > c.applied+1 && log.LastSeq() >= first {
		_ = log.Close()
		return loaded{}, fmt.Errorf("log starts at sequence %d but the snapshot covers only up to %d: records %d..%d are missing", first, c.applied, c.applied+1, first-1)
	}
	replayed := 0
	rp := newReplayer(c, runtime.GOMAXPROCS(0))
	err = log.Replay(c.applied+1, func(seq uint64, typ byte, payload []byte) error {
		replayed++
		return rp.submit(seq, typ, payload)
	})
	err = errors.Join(err, rp.wait())
	if err != nil {
		_ = log.Close()
		return loaded{}, fmt.Errorf("replay log: %w", err)
	}
	if c.applied != log.LastSeq() && log.LastSeq() > c.applied {
		_ = log.Close()
		return loaded{}, fmt.Errorf("replay stopped at sequence %d, log ends at %d", c.applied, log.LastSeq())
	}
	c.nextSeq = c.applied
	h.refreshSnapshotBytes()
	if err := h.removeOrphanVectors(c); err != nil {
		db.log.Warn("could not remove vectors files no snapshot needs", "collection", h.info.Name, "err", err)
	}
	db.cfg.Observer.Recovered(h.info.Name, time.Since(start), replayed)
	db.log.Info("collection recovered", "collection", h.info.Name, "tenant", h.info.TenantID, "records", c.Count(), "snapshot_seq", c.applied-uint64(replayed), "replayed", replayed, "duration", time.Since(start))
	recovered = true
	return loaded{c: c, log: log, replayed: replayed}, nil
}

func (db *DB) openLog(h *Handle, applied uint64) (*wal.Log, error) {
	return wal.Open(h.walDir(), wal.Options{
		FS: db.cfg.FS, Logger: db.log.With("collection", h.info.Name, "tenant", h.info.TenantID),
		SegmentSize: db.cfg.SegmentSize, Sync: db.cfg.Sync, SyncInterval: db.cfg.SyncInterval, CommitDelay: db.cfg.CommitDelay,
		FirstSeq: applied + 1, FsyncObserver: db.cfg.Observer.WALFsync,
		Writers: func() int { return int(h.writers.Load()) },
	})
}

// replayer applies log records to a collection with several workers: the
// graph work of consecutive upserts runs in parallel, and publication stays
// in sequence order (ApplyUpsert waits for its turn), so the result is the
// same as applying the records one by one. Records are handed out in
// sequence order and at most `workers` are in flight, so a worker waiting
// for its turn always waits for one that is already being applied.
type replayer struct {
	c    *Collection
	jobs chan replayJob
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
}

type replayJob struct {
	seq    uint64
	upsert *UpsertBatch
	delete *DeleteBatch
}

func newReplayer(c *Collection, workers int) *replayer {
	rp := &replayer{c: c, jobs: make(chan replayJob)}
	for range max(1, workers) {
		rp.wg.Add(1)
		go rp.work()
	}
	return rp
}

func (rp *replayer) work() {
	defer rp.wg.Done()
	for j := range rp.jobs {
		var err error
		if j.upsert != nil {
			err = rp.c.ApplyUpsert(j.seq, *j.upsert)
		} else {
			_, err = rp.c.ApplyDelete(j.seq, *j.delete)
		}
		if err != nil {
			rp.mu.Lock()
			if rp.err == nil {
				rp.err = fmt.Errorf("record %d: %w", j.seq, err)
			}
			rp.mu.Unlock()
		}
	}
}

// submit decodes one record (the payload is only valid during the call)
// and hands it to a worker.
func (rp *replayer) submit(seq uint64, typ byte, payload []byte) error {
	rp.mu.Lock()
	err := rp.err
	rp.mu.Unlock()
	if err != nil {
		return err
	}
	j := replayJob{seq: seq}
	switch typ {
	case record.TypeUpsert:
		u, err := record.DecodeUpsert(payload)
		if err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		b, err := rp.c.batchFromLog(u)
		if err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		j.upsert = &b
	case record.TypeDelete:
		d, err := record.DecodeDelete(payload)
		if err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		j.delete = &DeleteBatch{IDs: d.IDs}
	default:
		return fmt.Errorf("record %d: unknown record type %d", seq, typ)
	}
	rp.jobs <- j
	return nil
}

// wait lets the workers finish and returns the first error.
func (rp *replayer) wait() error {
	close(rp.jobs)
	rp.wg.Wait()
	return rp.err
}

// loadNewestSnapshot returns the collection from the newest snapshot that
// reads back intact, or an empty one when there is none. A damaged
// snapshot is skipped with a warning (the log since the older snapshot is
// kept for exactly this case).
func (db *DB) loadNewestSnapshot(h *Handle, cfg CollectionConfig, readOnly bool) (*Collection, error) {
	seqs, err := snapshot.List(db.cfg.FS, h.snapshotDir())
	if err != nil {
		return nil, err
	}
	env := vectorsEnv(db.cfg.FS, h.vectorsDir(), readOnly)
	// With int8 and the originals on disk, the graph's lists and codes go
	// to file-backed memory (mappedmem.go): a new arena per attempt, as
	// Open empties the directory. Read-only readers (fsck, checks) keep
	// them on the heap and never touch the scratch directory.
	mappedMem := !readOnly && wantsMapped(h.quantization())
	logger := db.log.With("collection", h.info.Name, "tenant", h.info.TenantID)
	for _, seq := range seqs {
		var arena *mapped.Arena
		if mappedMem {
			arena = openArena(db.cfg.FS, h.mappedDir(), logger)
			env.alloc = allocatorOf(arena)
		}
		c, err := readSnapshot(db.cfg.FS, h.snapshotDir(), seq, env)
		if err != nil && arena != nil {
			_ = arena.Close()
		}
		if err == nil && arena != nil {
			c.q.arena = arena
		}
		if err == nil {
			if c.cfg.Dimension != cfg.Dimension || c.cfg.Metric != cfg.Metric {
				_ = c.closeVectors() // and its arena
				return nil, fmt.Errorf("snapshot %d is for dimension %d %s, the catalog says %d %s", seq, c.cfg.Dimension, c.cfg.Metric, cfg.Dimension, cfg.Metric)
			}
			c.cfg.Name = cfg.Name
			return c, nil
		}
		var ce *snapshot.CorruptError
		if !errors.As(err, &ce) && !errors.Is(err, errState) {
			return nil, err
		}
		db.log.Warn("snapshot unusable, trying an older one", "collection", cfg.Name, "seq", seq, "err", err)
	}
	c, err := NewCollection(cfg)
	if err != nil || !mappedMem {
		return c, err
	}
	if arena := openArena(db.cfg.FS, h.mappedDir(), logger); arena != nil {
		if err := c.useArena(arena); err != nil {
			_ = arena.Close()
			return nil, err
		}
	}
	return c, nil
}

// readSnapshot decodes snapshot seq of dir; env opens its vectors file if
// it names one.
func readSnapshot(fsys wal.FS, dir string, seq uint64, env stateEnv) (*Collection, error) {
	r, err := snapshot.Open(fsys, dir, seq)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	c, err := decodeState(r, env)
	if err != nil {
		// A checksum failure inside the stream surfaces from the decoder
		// wrapped; report it as the snapshot's corruption.
		var ce *snapshot.CorruptError
		if errors.As(err, &ce) {
			return nil, ce
		}
		return nil, err
	}
	if err := r.Finish(); err != nil {
		return nil, err
	}
	if c.applied != seq {
		return nil, &snapshot.CorruptError{Path: r.Path(), Reason: fmt.Sprintf("state covers sequence %d, file is for %d", c.applied, seq)}
	}
	return c, nil
}

// close stops the collection: optionally a final checkpoint, then the log.
// A load or an eviction in flight is waited for; a collection that is not
// in memory has nothing to close. With a memory budget, a tiered
// collection closed cleanly (checkpoint) is marked cold, so the next
// start leaves it out of memory until it is asked for.
func (h *Handle) close(checkpoint bool) error {
	if !h.closeResidency() || h.wal == nil || h.closed.Load() {
		return nil
	}
	// Background quantization work stops at its next step; the final
	// checkpoint records whatever it reached.
	h.c.stopQuant()
	var errs []error
	clean := false
	// An index still building is not in the snapshot: the catalog has it,
	// and the next open (or load) builds it again.
	h.c.builds.stopAll()
	if checkpoint && h.wal.Err() == nil {
		if err := h.Checkpoint(); err != nil {
			errs = append(errs, err)
		} else {
			clean = true
		}
	}
	// Stop a checkpoint still running (the background checkpointer's) and
	// wait for it: nothing may write in the directory once close returns.
	h.closing.Store(true)
	h.ckptMu.Lock()
	defer h.ckptMu.Unlock()
	facts := h.Facts()
	// Keep writers out while the log closes.
	h.c.writeGate.Lock()
	h.closed.Store(true)
	if err := h.wal.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close log of %s: %w", h.info.Name, err))
		clean = false
	}
	if err := h.c.closeVectors(); err != nil {
		errs = append(errs, fmt.Errorf("close vectors file of %s: %w", h.info.Name, err))
	}
	h.c.writeGate.Unlock()
	if clean && h.db.memoryBudget() > 0 && tiered(h.TierPolicy()) {
		if err := h.writeCold(facts, h.db.now()); err != nil {
			h.db.log.Warn("marking a collection cold failed; the next start loads it", "collection", h.info.Name, "err", err)
		}
	}
	return errors.Join(errs...)
}
