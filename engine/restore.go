package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/wal"
)

// RestoreOptions says which shipped collection to rebuild.
type RestoreOptions struct {
	Store  tier.ObjectStore
	Prefix string
	// Tenant names the tenant, in the store and in the data directory
	// ("": default). It must exist in the data directory.
	Tenant string
	Name   string
	// SourceID picks one shipped incarnation of tenant/name; "" takes the
	// most recently shipped one.
	SourceID string
	// ToSeq restores up to that log sequence number; 0: everything
	// shipped.
	ToSeq uint64
}

// RestoreResult reports a restore.
type RestoreResult struct {
	Tenant      string        `json:"tenant"`
	Name        string        `json:"name"`
	ID          string        `json:"id"`
	SourceID    string        `json:"source_id"`
	ManifestKey string        `json:"manifest_key"`
	SnapshotSeq uint64        `json:"snapshot_seq"`
	ToSeq       uint64        `json:"to_seq"`
	Segments    int           `json:"segments"`
	Replayed    int           `json:"replayed_records"`
	Records     int           `json:"records"`
	Bytes       int64         `json:"bytes_downloaded"`
	Duration    time.Duration `json:"duration_ns"`
	// Download is the part of Duration spent downloading and verifying
	// (and appending the log); Open the part spent opening the collection
	// (loading the snapshot, replaying the log).
	Download time.Duration `json:"download_ns"`
	Open     time.Duration `json:"open_ns"`
	// Quantization ("int8", or empty) and PayloadIndexes (fields) are the
	// settings the manifest recorded and the restore recreated.
	Quantization   string   `json:"quantization,omitempty"`
	PayloadIndexes []string `json:"payload_indexes,omitempty"`
}

// Restore rebuilds a shipped collection in the data directory dir (no
// server may have it open): it reads the collection's manifest, downloads
// the snapshot and the log objects the restore needs, checking each one's
// size and SHA-256 against the manifest, writes them as the new
// collection's snapshot and log, opens it (which checks every checksum
// again and replays the log), and only then makes it visible. The new
// collection gets a new id (it ships to its own prefix if it is
// memory-s3), keeps the manifest's policy, and never replaces one: a
// collection of that name in the tenant is ErrAlreadyExists. A failure
// part-way leaves nothing behind.
func Restore(ctx context.Context, dir string, cfg Config, opts RestoreOptions) (RestoreResult, error) {
	if opts.Store == nil {
		return RestoreResult{}, errors.New("restore: an object store is required")
	}
	if err := ValidateName(opts.Name); err != nil {
		return RestoreResult{}, err
	}
	if opts.Tenant == "" {
		opts.Tenant = DefaultTenant
	}
	cfg.Tier = nil // a restore ships nothing
	db, err := Open(dir, cfg)
	if err != nil {
		return RestoreResult{}, err
	}
	res, err := db.restore(ctx, opts)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return res, err
}

func (db *DB) restore(ctx context.Context, opts RestoreOptions) (RestoreResult, error) {
	start := time.Now()
	res := RestoreResult{Tenant: opts.Tenant, Name: opts.Name}
	t, err := db.meta.GetTenantByName(ctx, opts.Tenant)
	if errors.Is(err, meta.ErrNotFound) {
		return res, fmt.Errorf("restore: tenant %q does not exist in %s: create it first (akidb tenants create %s --data-dir %s)", opts.Tenant, db.dir, opts.Tenant, db.dir)
	}
	if err != nil {
		return res, err
	}
	if _, err := db.Collection(t.ID, opts.Name); err == nil {
		return res, fmt.Errorf("restore: %w: collection %q of tenant %s exists in %s; a restore never replaces one (drop it, or restore into another data directory)", ErrAlreadyExists, opts.Name, opts.Tenant, db.dir)
	}
	found, err := tier.FindShipped(ctx, opts.Store, opts.Prefix, opts.Tenant, opts.Name, opts.SourceID)
	if err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	m := found.Manifest
	plan, err := m.Plan(opts.ToSeq)
	if err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	res.SourceID, res.ManifestKey, res.ToSeq, res.Segments = m.CollectionID, found.Key, plan.ToSeq, len(plan.Segments)
	metric, err := distance.ParseMetric(m.Metric)
	if err != nil {
		return res, fmt.Errorf("restore: manifest %s: %w", found.Key, err)
	}
	policy := m.TierPolicy
	if policy != TierMemoryS3 && policy != TierS3Only {
		policy = TierMemory
	}
	ccfg, err := CollectionConfig{Name: opts.Name, Dimension: m.Dimension, Metric: metric, M: m.HNSW.M, EfConstruction: m.HNSW.EfConstruction}.withDefaults()
	if err != nil {
		return res, fmt.Errorf("restore: manifest %s: %w", found.Key, err)
	}

	// The name is claimed, not the database lock held, while the files
	// are downloaded (as a create does).
	key := colKey(t.ID, opts.Name)
	existing, release, err := db.claimName(ctx, key)
	if err != nil {
		return res, err
	}
	defer release()
	if existing != nil {
		return res, fmt.Errorf("restore: %w: collection %q", ErrAlreadyExists, opts.Name)
	}
	row, err := db.meta.InsertCollection(ctx, meta.Collection{TenantID: t.ID, Name: opts.Name, Dimension: ccfg.Dimension, Metric: ccfg.Metric.String(),
		M: ccfg.M, EfConstruction: ccfg.EfConstruction, TierPolicy: policy})
	if err != nil {
		return res, translateMetaErr(err)
	}
	res.ID = row.ID
	err = db.restoreSettings(ctx, row.ID, m.Settings, &res)
	var h *Handle
	if err == nil {
		h, err = db.fillRestored(ctx, row, found.Key, opts.Store, plan, &res)
	}
	if err == nil {
		if err = db.meta.MarkCollectionReady(ctx, row.ID); err != nil {
			_ = h.close(false)
		}
	}
	if err != nil {
		return res, db.undoCreate(ctx, row, fmt.Errorf("restore %s/%s: %w", opts.Tenant, opts.Name, err))
	}
	db.mu.Lock()
	db.cols[key] = h
	db.mu.Unlock()
	res.Records = h.Count()
	res.Duration = time.Since(start)
	db.log.Info("collection restored", "tenant", opts.Tenant, "collection", opts.Name, "id", row.ID, "from", found.Key,
		"snapshot_seq", res.SnapshotSeq, "to_seq", res.ToSeq, "records", res.Records, "duration", res.Duration)
	return res, nil
}

// restoreSettings writes the manifest's settings into the new row before
// the collection opens, as a create does: the open builds the payload
// indexes the snapshot lacks and takes the quantization's codes from it.
func (db *DB) restoreSettings(ctx context.Context, id string, s tier.Settings, res *RestoreResult) error {
	if q := s.Quantization; q != nil {
		mq := meta.Quantization{Type: q.Type, Originals: meta.OriginalsMemory, Ranges: q.Ranges}
		if err := db.meta.SetCollectionQuantization(ctx, id, mq); err != nil {
			return fmt.Errorf("quantization: %w", translateMetaErr(err))
		}
		res.Quantization = q.Type
	}
	for _, p := range s.PayloadIndexes {
		if _, err := db.meta.InsertPayloadIndex(ctx, meta.PayloadIndex{CollectionID: id, Field: p.Field, Type: p.Type}); err != nil {
			return fmt.Errorf("payload index on %q: %w", p.Field, translateMetaErr(err))
		}
		res.PayloadIndexes = append(res.PayloadIndexes, p.Field)
	}
	return nil
}

// fillRestored downloads the plan's objects into the new collection's
// directory and opens it.
func (db *DB) fillRestored(ctx context.Context, row meta.Collection, manifestKey string, store tier.ObjectStore, plan tier.RestorePlan, res *RestoreResult) (*Handle, error) {
	start := time.Now()
	dir := db.collectionDir(row.ID)
	// Each new directory is made durable in its parent (a power cut must
	// not lose the entry of a directory whose files are synced).
	if err := wal.MkdirAllDurable(db.cfg.FS, filepath.Join(dir, "snapshots"), 0o700); err != nil {
		return nil, err
	}
	var base uint64
	if s := plan.Snapshot; s != nil {
		base = s.LastSeq
		res.SnapshotSeq = base
		final := filepath.Join(dir, "snapshots", snapshot.FileName(base))
		if err := downloadFile(ctx, fetchFrom(store, manifestKey), *s, final); err != nil {
			return nil, err
		}
		res.Bytes += s.Size
	}
	log, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{FS: db.cfg.FS, Logger: db.log, SegmentSize: db.cfg.SegmentSize, Sync: wal.SyncNone, FirstSeq: base + 1})
	if err != nil {
		return nil, err
	}
	err = replayShippedLog(ctx, log, filepath.Join(dir, "restore.chunk.tmp"), fetchFrom(store, manifestKey), plan, base, res)
	if serr := log.Sync(); err == nil {
		err = serr
	}
	if cerr := log.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	res.Download = time.Since(start)
	opened := time.Now()
	h, err := db.openCollection(row)
	res.Open = time.Since(opened)
	if err != nil {
		return nil, err
	}
	if got := h.c.appliedSeq(); got != plan.ToSeq {
		_ = h.close(false)
		return nil, fmt.Errorf("the restored collection reaches sequence %d, %d was planned", got, plan.ToSeq)
	}
	return h, nil
}

// fetchObject copies one object of a manifest to w, checking its size
// and SHA-256: straight from a store (a restore), or through the tier's
// breaker (a load of an evicted collection, load.go).
type fetchObject func(ctx context.Context, o tier.Object, w io.Writer) error

// fetchFrom reads the objects of the manifest at manifestKey from store.
func fetchFrom(store tier.ObjectStore, manifestKey string) fetchObject {
	return func(ctx context.Context, o tier.Object, w io.Writer) error {
		return tier.Download(ctx, store, manifestKey, o, w)
	}
}

// replayShippedLog appends the records base+1..ToSeq of the plan's log
// objects to a collection's log, in order.
func replayShippedLog(ctx context.Context, log *wal.Log, tmp string, fetch fetchObject, plan tier.RestorePlan, base uint64, res *RestoreResult) error {
	defer os.Remove(tmp)
	for _, seg := range plan.Segments {
		if err := downloadFile(ctx, fetch, seg, tmp); err != nil {
			return err
		}
		res.Bytes += seg.Size
		f, err := os.Open(tmp)
		if err != nil {
			return err
		}
		first, last, err := wal.ReadChunk(f, func(seq uint64, typ byte, payload []byte) error {
			if seq <= base || seq > plan.ToSeq {
				return nil
			}
			got, err := log.Append(typ, payload)
			if err != nil {
				return err
			}
			if got != seq {
				return fmt.Errorf("log object %s: record %d was appended as %d: the shipped log has a gap", seg.Key, seq, got)
			}
			res.Replayed++
			return nil
		})
		f.Close()
		if err != nil {
			return fmt.Errorf("log object %s: %w", seg.Key, err)
		}
		// The object's SHA-256 only says it is the bytes that were
		// uploaded; that they hold the records the manifest says is
		// checked here, so a shipped log with a hole is refused with
		// its place named instead of restoring less than was shipped.
		if first != seg.FirstSeq || last != seg.LastSeq {
			return fmt.Errorf("%w: log object %s holds records %d..%d, the manifest says %d..%d: the shipped log has a gap, and the restore stops rather than return less (restore up to an earlier --to-seq)",
				tier.ErrNotRestorable, seg.Key, first, last, seg.FirstSeq, seg.LastSeq)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if last := log.LastSeq(); last != plan.ToSeq {
		return fmt.Errorf("the shipped log ends at %d, %d was planned", last, plan.ToSeq)
	}
	return nil
}

// downloadFile downloads o to path through a temporary file, fsynced and
// renamed into place only once its checksum matched.
func downloadFile(ctx context.Context, fetch fetchObject, o tier.Object, path string) (err error) {
	tmp := path + ".download"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err = fetch(ctx, o, w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(wal.OSFS{}, filepath.Dir(path))
}

// ListShipped lists the collections shipped under prefix (akidb restore
// --list).
func ListShipped(ctx context.Context, store tier.ObjectStore, prefix string) ([]tier.ShippedCollection, error) {
	return tier.ListShipped(ctx, store, prefix)
}
