package tier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/wal"
)

// Timeouts of store calls: small calls get smallCallTimeout; an upload
// also gets a second per uploadBytesPerSecond of its size, so a big
// snapshot over a slow uplink is not cut off while a dead store is still
// noticed.
const (
	smallCallTimeout     = 30 * time.Second
	uploadBytesPerSecond = 256 << 10
)

func uploadTimeout(size int64) time.Duration {
	return time.Minute + time.Duration(size/uploadBytesPerSecond)*time.Second
}

// pass is one shipping round for one collection.
func (t *Tier) pass(parent context.Context, c *colState) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return nil
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()

	now := t.cfg.Clock.Now()
	c.sample(now)
	var errs []error
	if !c.remoteChecked {
		errs = append(errs, t.checkRemote(ctx, c))
	}
	if c.remoteChecked && !c.swept {
		errs = append(errs, t.sweep(ctx, c))
	}
	t.retryDueLog(ctx, c)
	synced, err := c.src.SyncedSeq()
	if err != nil {
		errs = append(errs, fmt.Errorf("sync log: %w", err))
	} else {
		errs = append(errs, t.stageSnapshot(c), t.stageLog(c, synced))
	}
	errs = append(errs, t.uploadStaged(ctx, c))
	if c.remoteChecked {
		errs = append(errs, t.advance(ctx, c))
	}
	c.updateHolds()
	err = errors.Join(errs...)
	c.hold.Lock()
	c.lastPass, c.lastErr = now, ""
	if err != nil {
		c.lastErr = err.Error()
	}
	c.hold.Unlock()
	return err
}

// checkRemote reads the store's manifest once, before any manifest is
// written or any leftover deleted: a crash between writing the manifest
// and the local copy leaves the store's newer, and that one counts.
func (t *Tier) checkRemote(ctx context.Context, c *colState) error {
	var remote *Manifest
	err := t.call(ctx, smallCallTimeout, func(ctx context.Context) error {
		rc, _, err := t.store.Get(ctx, c.key(ManifestName))
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
		if err != nil {
			return err
		}
		m, derr := DecodeManifest(b)
		if derr != nil {
			// Not the store's fault: ours is rewritten over it.
			t.log.Error("tier: the manifest in the store is invalid; it will be replaced", "collection", c.info.Name, "key", c.key(ManifestName), "err", derr)
			return nil
		}
		remote = m
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("read manifest: %w", err)
	}
	if remote != nil && remote.CollectionID == c.info.ID && (c.man == nil || remote.Generation > c.man.Generation) {
		b, err := remote.Encode()
		if err == nil {
			err = writeLocalManifest(c.fs, c.manifestCopy(), b)
		}
		if err != nil {
			return err
		}
		c.man = remote
	}
	c.remoteChecked = true
	return nil
}

// sweep removes what a crash can leave in the store under the
// collection's prefix: unfinished multipart uploads, and objects that
// neither the manifest, the queue nor the DLQ refers to.
func (t *Tier) sweep(ctx context.Context, c *colState) error {
	n := 0
	err := t.call(ctx, smallCallTimeout, func(ctx context.Context) (err error) {
		n, err = t.store.AbortIncompleteUploads(ctx, c.prefix)
		return err
	})
	if err != nil {
		return fmt.Errorf("abort incomplete uploads: %w", err)
	}
	if n > 0 {
		t.log.Info("tier: aborted unfinished uploads", "collection", c.info.Name, "count", n)
	}
	var objs []ObjectInfo
	if err := t.call(ctx, smallCallTimeout, func(ctx context.Context) (err error) {
		objs, err = t.store.List(ctx, c.prefix)
		return err
	}); err != nil {
		return fmt.Errorf("list %s: %w", c.prefix, err)
	}
	refs := map[string]bool{ManifestName: true}
	if c.man != nil {
		for _, list := range [][]Object{c.man.Snapshots, c.man.Segments, c.man.Parquet} {
			for _, o := range list {
				refs[o.Key] = true
			}
		}
	}
	for _, a := range c.queue {
		refs[a.rel] = true
	}
	entries, err := t.collectionDLQ(ctx, c.info.ID)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if rel, ok := c.relKey(e.ObjectKey); ok && e.Operation == meta.DLQUpload {
			refs[rel] = true
		}
	}
	for _, o := range objs {
		rel, ok := c.relKey(o.Key)
		if !ok || refs[rel] {
			continue
		}
		if err := t.call(ctx, smallCallTimeout, func(ctx context.Context) error { return t.store.Delete(ctx, o.Key) }); err != nil {
			return fmt.Errorf("delete leftover %s: %w", o.Key, err)
		}
		t.log.Info("tier: deleted an object no manifest refers to", "collection", c.info.Name, "key", o.Key)
	}
	c.swept = true
	return nil
}

// stageSnapshot queues the newest local snapshot if the store does not
// have it, with its Parquet export if the engine wrote one, and drops
// queued older snapshots it supersedes (a newer snapshot plus the log
// after it restores everything they would).
func (t *Tier) stageSnapshot(c *colState) error {
	seqs, err := c.src.Snapshots()
	if err != nil {
		return err
	}
	if len(seqs) == 0 {
		return nil
	}
	n := seqs[0]
	defer t.cleanStagedParquet(c, n)
	if n <= c.man.NewestSnapshot() || c.find(snapshotKey(n)) != nil || n == c.rejected {
		return nil
	}
	// The snapshot's own checksums are checked before it is staged: a
	// file damaged on the local disk after it was written would otherwise
	// be shipped, listed in the manifest as the newest snapshot, and fail
	// the restore that picks it. Rejected, it leaves the older snapshots
	// queued and the log shipping (the local log is kept until the
	// manifest covers it), and a checkpoint is asked for to replace it.
	if _, _, err := snapshot.Verify(c.fs, c.src.SnapshotPath(n)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // pruned meanwhile by two quick checkpoints: the next pass takes the newer one
		}
		c.rejected = n
		t.log.Error("tier: the newest local snapshot is damaged and will not be shipped; the log keeps shipping and a checkpoint is requested to replace it",
			"collection", c.info.Name, "seq", n, "err", err)
		c.src.RequestCheckpoint()
		return nil
	}
	for _, a := range slices.Clone(c.queue) {
		if a.kind != KindSnapshot && a.kind != KindParquet || a.last >= n || a.state == confirmed {
			continue
		}
		t.drop(c, a, true, fmt.Sprintf("superseded by the snapshot at %d", n))
	}
	path := c.src.SnapshotPath(n)
	sum, size, err := hashFile(c.fs, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // pruned meanwhile by two quick checkpoints: the next pass takes the newer one
	}
	if err != nil {
		return err
	}
	c.queue = append(c.queue, &artifact{kind: KindSnapshot, first: n, last: n, rel: snapshotKey(n), path: path, size: size, sha: sum})
	c.updateHolds()
	if err := t.stageParquet(c, n); err != nil {
		t.log.Error("tier: the Parquet export of a snapshot cannot be staged; the snapshot ships without it", "collection", c.info.Name, "seq", n, "err", err)
	}
	c.sortQueue()
	return nil
}

// stageParquet queues the Parquet export the engine wrote for the snapshot
// at seq, if there is one.
func (t *Tier) stageParquet(c *colState, seq uint64) error {
	path := filepath.Join(c.stagingDir(), ParquetFileName(seq))
	if err := checkParquetFile(c.fs, path); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if errors.Is(err, ErrStagedFileDamaged) {
		// Written before exports were fsynced, and cut by a power loss:
		// shipping it would put a file no reader opens in the store.
		t.log.Warn("tier: a Parquet export is damaged; it is removed and not shipped (its snapshot ships without it, the next checkpoint exports again)",
			"collection", c.info.Name, "file", path, "err", err)
		if rerr := c.fs.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return rerr
		}
		return nil
	} else if err != nil {
		return err
	}
	sum, size, err := hashFile(c.fs, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	c.queue = append(c.queue, &artifact{kind: KindParquet, first: seq, last: seq, rel: parquetKey(seq), path: path, size: size, sha: sum, own: true})
	return nil
}

// cleanStagedParquet removes staged Parquet exports that will never ship:
// those of snapshots older than the newest local one that nothing queues
// (a newer snapshot superseded them before they were staged).
func (t *Tier) cleanStagedParquet(c *colState, newest uint64) {
	names, err := c.fs.ReadDir(c.stagingDir())
	if err != nil {
		return
	}
	for _, name := range names {
		seq, ok := parquetSeq(name)
		if !ok || seq >= newest || c.find(parquetKey(seq)) != nil {
			continue
		}
		_ = c.fs.Remove(filepath.Join(c.stagingDir(), name))
	}
}

// logCursor is the last log record the store has or the queue holds.
func (c *colState) logCursor() uint64 {
	var cur uint64
	if c.man != nil {
		cur = c.man.ShippedSeq
	}
	for _, a := range c.queue {
		if a.kind == KindLog {
			cur = max(cur, a.last)
		}
	}
	return cur
}

// stageLog copies the durable log after the cursor into chunk files of at
// most ChunkBytes. While a chunk waits in the DLQ no new one is cut: the
// records stay in the log (which keeps everything not shipped) and go out
// together once the store is back, instead of piling up as copies.
func (t *Tier) stageLog(c *colState, synced uint64) error {
	for _, a := range c.queue {
		if a.kind == KindLog && a.state != confirmed {
			return nil
		}
	}
	from := c.logCursor() + 1
	if first := c.src.LogFirstSeq(); from < first {
		// The log no longer holds what follows the cursor (the policy was
		// switched on after the log was truncated, or the manifest is
		// behind): ship from a snapshot that covers the gap.
		base := uint64(0)
		for _, a := range c.queue {
			if a.kind == KindSnapshot && a.last+1 >= first {
				base = max(base, a.last)
			}
		}
		if nb := c.man.NewestSnapshot(); nb+1 >= first {
			base = max(base, nb)
		}
		if base == 0 {
			c.src.RequestCheckpoint()
			return nil
		}
		from = base + 1
	}
	if synced < from {
		return nil
	}
	var (
		f    wal.File
		cw   *wal.ChunkWriter
		h    = sha256.New()
		tmp  = filepath.Join(c.stagingDir(), "chunk.tmp")
		errs []error
	)
	finish := func() error {
		if cw == nil {
			return nil
		}
		last := cw.LastSeq()
		size := cw.Size()
		// Durable before anything refers to it: a DLQ entry (in the
		// catalog, durable) may name this file once an upload fails, and
		// must never point at a file a power cut emptied or took.
		err := f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		f = nil
		if err != nil {
			return err
		}
		a := &artifact{kind: KindLog, first: from, last: last, rel: logKey(from, last), size: size, sha: hex.EncodeToString(h.Sum(nil)), own: true}
		a.path = filepath.Join(c.stagingDir(), filepath.Base(a.rel))
		if err := c.fs.Rename(tmp, a.path); err != nil {
			return err
		}
		if err := c.fs.SyncDir(c.stagingDir()); err != nil {
			return err
		}
		c.queue = append(c.queue, a)
		from = last + 1
		cw = nil
		h.Reset()
		return nil
	}
	start := func(seq uint64) error {
		var err error
		if f, err = c.fs.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600); err != nil {
			return err
		}
		cw, err = wal.NewChunkWriter(io.MultiWriter(&fileWriter{f: f}, h), seq)
		return err
	}
	err := c.src.ReadLog(from, synced, func(seq uint64, typ byte, payload []byte) error {
		if cw != nil && cw.Size() >= t.cfg.ChunkBytes {
			if err := finish(); err != nil {
				return err
			}
		}
		if cw == nil {
			if err := start(seq); err != nil {
				return err
			}
		}
		return cw.Append(seq, typ, payload)
	})
	if err == nil {
		err = finish()
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("stage log %d..%d: %w", from, synced, err))
		if f != nil {
			_ = f.Close()
		}
		_ = c.fs.Remove(tmp)
	}
	c.sortQueue()
	return errors.Join(errs...)
}

// uploadStaged uploads the staged artifacts in order; a failure queues the
// artifact in the DLQ.
func (t *Tier) uploadStaged(ctx context.Context, c *colState) error {
	var errs []error
	for _, a := range slices.Clone(c.queue) {
		if a.state != staged || c.find(a.rel) != a {
			continue // not staged, or dropped with a damaged chunk before it
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := t.upload(ctx, c, a); err != nil {
			if errors.Is(err, ErrStagedFileDamaged) {
				if resolved, rerr := t.recoverDamaged(c, a, err); resolved {
					continue
				} else {
					err = rerr
				}
			}
			if derr := t.deadLetter(ctx, c, a, err); derr != nil {
				errs = append(errs, derr)
			}
			errs = append(errs, err)
			continue
		}
		a.state = confirmed
	}
	return errors.Join(errs...)
}

// call runs one store call through the breaker with a timeout.
func (t *Tier) call(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	return t.breaker.Do(ctx, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return fn(ctx)
	})
}

// upload checks a's file against the size and SHA-256 recorded when it
// was staged (ErrStagedFileDamaged), sends it and confirms it: HEAD must
// show that size and SHA-256, which the upload's bytes were checked
// against while they were sent.
func (t *Tier) upload(ctx context.Context, c *colState, a *artifact) error {
	// Checked before a byte is sent: a file that is missing or not what
	// was staged is never shipped (and is not the store's failure). The
	// streaming check below still catches a file that changes meanwhile.
	if err := verifyStaged(c, a); err != nil {
		return err
	}
	start := t.cfg.Clock.Now()
	key := c.key(a.rel)
	err := t.call(ctx, uploadTimeout(a.size), func(ctx context.Context) error {
		return putFile(ctx, t.store, c.fs, key, a.path, a.size, a.sha)
	})
	if err == nil {
		err = t.call(ctx, smallCallTimeout, func(ctx context.Context) error { return confirm(ctx, t.store, key, a.size, a.sha) })
	}
	t.observeUpload(a.kind, err, t.cfg.Clock.Now().Sub(start), a.size)
	if err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

func (t *Tier) observeUpload(kind string, err error, d time.Duration, size int64) {
	switch {
	case err == nil:
		t.cfg.Observer.Upload(kind, "success", d, size)
	case errors.Is(err, ErrBreakerOpen):
		t.cfg.Observer.Upload(kind, "breaker_open", 0, 0)
	default:
		t.cfg.Observer.Upload(kind, "failure", d, 0)
	}
}

func putFile(ctx context.Context, s ObjectStore, fsys wal.FS, key, path string, size int64, sum string) error {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	return s.Put(ctx, key, NewVerifyingReader(&fileReader{f: f}, size, sum), size, PutOptions{SHA256: sum})
}

// confirm checks that the store holds key with this size and SHA-256.
func confirm(ctx context.Context, s ObjectStore, key string, size int64, sum string) error {
	info, err := s.Head(ctx, key)
	if err != nil {
		return fmt.Errorf("confirm: %w", err)
	}
	if info.Size != size || info.SHA256 != sum {
		return fmt.Errorf("confirm: the store holds %d bytes with sha-256 %q, %d bytes with %s were sent", info.Size, info.SHA256, size, sum)
	}
	return nil
}

// deadLetter queues a failed upload in the DLQ; the artifact then belongs
// to the retry worker.
func (t *Tier) deadLetter(ctx context.Context, c *colState, a *artifact, cause error) error {
	e, err := t.meta.PutDLQEntry(context.WithoutCancel(ctx), meta.DLQEntry{
		CollectionID: c.info.ID, TenantID: c.info.TenantID, CollectionName: c.info.Name, Operation: meta.DLQUpload, Kind: a.kind,
		ObjectKey: c.key(a.rel), LocalFile: a.path, Size: a.size, SHA256: a.sha, FirstSeq: a.first, LastSeq: a.last,
		LastError: cause.Error(), NextAttemptAt: t.cfg.Clock.Now(),
	})
	if err != nil {
		// The artifact stays staged: the next pass tries again.
		return fmt.Errorf("queue %s in the DLQ: %w", a.rel, err)
	}
	a.state, a.dlqID = queued, e.ID
	t.log.Warn("tier: upload failed; queued for retry", "collection", c.info.Name, "key", e.ObjectKey, "dlq_id", e.ID, "err", cause)
	return nil
}

// drop removes an artifact that is no longer needed, with its DLQ entry
// when dropEntry is set (the worker removes the entry it is retrying).
func (t *Tier) drop(c *colState, a *artifact, dropEntry bool, why string) {
	if dropEntry && a.state == queued && a.dlqID != 0 {
		if err := t.meta.DeleteDLQEntry(context.Background(), a.dlqID); err != nil && !errors.Is(err, meta.ErrNotFound) {
			t.log.Warn("tier: removing a superseded DLQ entry failed", "collection", c.info.Name, "dlq_id", a.dlqID, "err", err)
		}
	}
	t.log.Info("tier: upload no longer needed", "collection", c.info.Name, "key", c.key(a.rel), "why", why)
	c.remove(a)
	c.updateHolds()
}

// advance lists the confirmed artifacts in a new manifest when they fit
// (log objects must continue the log the manifest reaches), writes it,
// then applies the retention.
func (t *Tier) advance(ctx context.Context, c *colState) error {
	next := t.nextManifest(c)
	if next != nil {
		if err := t.writeManifest(ctx, c, next); err != nil {
			return err
		}
	}
	return t.retain(ctx, c)
}

func (t *Tier) newManifest(c *colState) *Manifest {
	i := c.info
	return &Manifest{FormatVersion: ManifestFormat, CollectionID: i.ID, TenantID: i.TenantID, Tenant: i.TenantName, Name: i.Name,
		Dimension: i.Dimension, Metric: i.Metric, HNSW: HNSW{M: i.M, EfConstruction: i.EfConstruction}, Seed: i.Seed,
		TierPolicy: i.Policy, CreatedAt: i.CreatedAt.UTC(), Snapshots: []Object{}, Segments: []Object{}}
}

// nextManifest returns the manifest with the confirmed artifacts that fit
// added, or nil if none does. Confirmed artifacts made useless by a newer
// snapshot are deleted from the store.
func (t *Tier) nextManifest(c *colState) *Manifest {
	var next *Manifest
	if c.man != nil {
		next = c.man.clone()
	} else {
		next = t.newManifest(c)
	}
	changed := false
	// Settings changed since the last manifest (an index added, the
	// quantization switched) are a reason to write one: a restore must
	// recreate them. The first manifest waits for something to list.
	if s, err := c.src.Settings(); err != nil {
		t.log.Warn("tier: reading the collection's settings for its manifest; the manifest keeps the last ones", "collection", c.info.Name, "err", err)
	} else if !s.Equal(next.Settings) {
		next.Settings = s
		changed = c.man != nil
	}
	oldest := uint64(0)
	if len(next.Snapshots) > 0 {
		oldest = next.Snapshots[0].LastSeq
	}
	for _, a := range slices.Clone(c.queue) {
		if a.state != confirmed {
			continue
		}
		switch a.kind {
		case KindSnapshot:
			if a.last > next.NewestSnapshot() {
				next.Snapshots = append(next.Snapshots, a.object())
				changed = true
			} else {
				t.discardConfirmed(c, a, "an equal or newer snapshot is in the manifest")
			}
		case KindParquet:
			if len(next.Parquet) == 0 || a.last > next.Parquet[len(next.Parquet)-1].LastSeq {
				next.Parquet = append(next.Parquet, a.object())
				changed = true
			} else {
				t.discardConfirmed(c, a, "a newer Parquet export is in the manifest")
			}
		}
	}
	if len(next.Snapshots) > 0 && oldest == 0 {
		oldest = next.Snapshots[0].LastSeq
	}
	for {
		reach := next.reach()
		added := false
		for _, a := range slices.Clone(c.queue) {
			if a.kind != KindLog || a.state != confirmed || c.listed(next, a) {
				continue
			}
			switch {
			case a.last <= reach && a.last <= oldest:
				t.discardConfirmed(c, a, "the log it holds is older than every kept snapshot")
			case a.first <= reach+1:
				next.Segments = append(next.Segments, a.object())
				slices.SortFunc(next.Segments, func(x, y Object) int { return int64Cmp(x.FirstSeq, y.FirstSeq) })
				added, changed = true, true
			}
		}
		if !added {
			break
		}
	}
	if !changed {
		return nil
	}
	next.ShippedSeq = next.reach()
	return next
}

func int64Cmp(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (c *colState) listed(m *Manifest, a *artifact) bool {
	for _, o := range m.Segments {
		if o.Key == a.rel {
			return true
		}
	}
	return false
}

// discardConfirmed deletes an uploaded object that no manifest will list.
func (t *Tier) discardConfirmed(c *colState, a *artifact, why string) {
	t.drop(c, a, false, why)
	t.deleteObjects(context.Background(), c, []Object{a.object()}, a.kind)
}

// writeManifest uploads next, confirms it, keeps the local copy, and then
// lets go of the artifacts it lists.
func (t *Tier) writeManifest(ctx context.Context, c *colState, next *Manifest) error {
	next.Generation++
	next.UpdatedAt = t.cfg.Clock.Now().UTC()
	next.TierPolicy = c.info.Policy
	if err := next.Validate(); err != nil {
		return fmt.Errorf("tier: built an invalid manifest (a bug): %w", err)
	}
	b, err := next.Encode()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	key := c.key(ManifestName)
	start := t.cfg.Clock.Now()
	err = t.call(ctx, smallCallTimeout, func(ctx context.Context) error {
		return t.store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), PutOptions{SHA256: hexSum, ContentType: manifestCType})
	})
	if err == nil {
		err = t.call(ctx, smallCallTimeout, func(ctx context.Context) error { return confirm(ctx, t.store, key, int64(len(b)), hexSum) })
	}
	t.observeUpload(KindManifest, err, t.cfg.Clock.Now().Sub(start), int64(len(b)))
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := writeLocalManifest(c.fs, c.manifestCopy(), b); err != nil {
		// The store has it; the next start reads it from there.
		t.log.Warn("tier: keeping the local copy of the manifest failed", "collection", c.info.Name, "err", err)
	}
	c.man = next
	c.hold.Lock()
	c.lastShip = t.cfg.Clock.Now()
	c.hold.Unlock()
	listed := map[string]bool{}
	for _, list := range [][]Object{next.Snapshots, next.Segments, next.Parquet} {
		for _, o := range list {
			listed[o.Key] = true
		}
	}
	for _, a := range slices.Clone(c.queue) {
		if a.state == confirmed && listed[a.rel] {
			c.remove(a)
		}
	}
	c.updateHolds()
	return nil
}

// retain keeps the newest KeepSnapshots snapshots in the store with the
// log after the oldest of them: a manifest without the rest is written
// first, then they are deleted (a failed delete goes to the DLQ).
func (t *Tier) retain(ctx context.Context, c *colState) error {
	m := c.man
	if m == nil || len(m.Snapshots) <= t.cfg.KeepSnapshots {
		return nil
	}
	next := m.clone()
	dropped := next.Snapshots[:len(next.Snapshots)-t.cfg.KeepSnapshots]
	next.Snapshots = slices.Clone(next.Snapshots[len(next.Snapshots)-t.cfg.KeepSnapshots:])
	oldest := next.Snapshots[0].LastSeq
	var segs []Object
	for _, s := range next.Segments {
		if s.LastSeq > oldest {
			segs = append(segs, s)
		} else {
			dropped = append(dropped, s)
		}
	}
	next.Segments = segs
	if next.Segments == nil {
		next.Segments = []Object{}
	}
	var pq []Object
	for _, p := range next.Parquet {
		if p.LastSeq >= oldest {
			pq = append(pq, p)
		} else {
			dropped = append(dropped, p)
		}
	}
	next.Parquet = pq
	next.ShippedSeq = next.reach()
	if err := t.writeManifest(ctx, c, next); err != nil {
		return err
	}
	t.deleteObjects(ctx, c, dropped, "")
	return nil
}

// deleteObjects deletes objects no manifest lists any more; a failure
// queues the delete in the DLQ. An object the current manifest lists is
// never deleted, whoever asks.
func (t *Tier) deleteObjects(ctx context.Context, c *colState, objs []Object, kind string) {
	for _, o := range objs {
		if c.man.lists(o.Key) {
			continue
		}
		k := kind
		if k == "" {
			k = kindOfKey(o.Key)
		}
		key := c.key(o.Key)
		err := t.call(ctx, smallCallTimeout, func(ctx context.Context) error { return t.store.Delete(ctx, key) })
		if err == nil {
			continue
		}
		if _, derr := t.meta.PutDLQEntry(context.WithoutCancel(ctx), meta.DLQEntry{
			CollectionID: c.info.ID, TenantID: c.info.TenantID, CollectionName: c.info.Name, Operation: meta.DLQDelete, Kind: k,
			ObjectKey: key, Size: o.Size, FirstSeq: o.FirstSeq, LastSeq: o.LastSeq, LastError: err.Error(), NextAttemptAt: t.cfg.Clock.Now(),
		}); derr != nil {
			t.log.Error("tier: a delete failed and could not be queued; the object stays until the next start's sweep", "key", key, "err", err, "queue_err", derr)
			continue
		}
		t.log.Warn("tier: delete failed; queued for retry", "collection", c.info.Name, "key", key, "err", err)
	}
}

func kindOfKey(rel string) string {
	switch {
	case len(rel) >= len(snapshotDir) && rel[:len(snapshotDir)] == snapshotDir:
		return KindSnapshot
	case len(rel) >= len(parquetDir) && rel[:len(parquetDir)] == parquetDir:
		return KindParquet
	}
	return KindLog
}

func (t *Tier) collectionDLQ(ctx context.Context, id string) ([]meta.DLQEntry, error) {
	var out []meta.DLQEntry
	after := int64(0)
	for {
		page, err := t.meta.ListDLQ(ctx, meta.DLQFilter{CollectionID: id}, after, meta.MaxDLQPage)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < meta.MaxDLQPage {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}
