package tier

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/wal"
)

// Object kinds, as the DLQ, the metrics and the manifest name them.
const (
	KindSnapshot = "snapshot"
	KindLog      = "log"
	KindParquet  = "parquet"
	KindManifest = "manifest"
)

type artifactState int

const (
	// staged: the local file is ready; the next pass uploads it.
	staged artifactState = iota
	// queued: an upload failed; the DLQ worker owns its retries.
	queued
	// confirmed: uploaded and verified; the next manifest lists it.
	confirmed
)

// artifact is one object on its way to the store: staged, queued in the
// DLQ, or confirmed and waiting for the manifest.
type artifact struct {
	kind        string
	first, last uint64
	rel         string // key relative to the collection's prefix
	path        string // the local file
	size        int64
	sha         string
	// own: the file is the tier's staging copy (a log chunk, a Parquet
	// export), deleted once listed or dropped; snapshots are the engine's.
	own   bool
	state artifactState
	dlqID int64
}

func (a *artifact) object() Object {
	return Object{Key: a.rel, Size: a.size, SHA256: a.sha, FirstSeq: a.first, LastSeq: a.last}
}

// colState is one shipped collection. mu serializes its passes, its DLQ
// retries and its unregistering; hold guards what the engine reads while
// a pass may be uploading.
type colState struct {
	src     Source
	fs      wal.FS
	info    CollectionInfo
	prefix  string
	tierDir string
	ctx     context.Context
	cancel  context.CancelFunc

	mu            sync.Mutex
	man           *Manifest // the last manifest known written (nil: none)
	remoteChecked bool      // the store's manifest was read once
	swept         bool      // leftovers in the store were cleaned once
	queue         []*artifact
	removed       bool
	// rejected is the newest local snapshot found damaged when it was
	// to be staged: it is not shipped, nor checked again.
	rejected uint64

	// hold guards what is read without waiting for a pass: the engine's
	// KeepLogFrom and HoldsSnapshot, and the status.
	hold     sync.Mutex
	shipped  uint64
	held     map[uint64]bool
	samples  []sample
	durable  uint64
	pending  int
	newest   *Object
	gen      uint64
	lastPass time.Time
	lastShip time.Time
	lastErr  string
	// manifest and checked are c.man and c.remoteChecked as of the last
	// pass, for loads of evicted collections (fetch.go), which must not
	// wait for a pass uploading something else. A Manifest is never
	// changed once c.man points at it (the next one is a clone).
	manifest *Manifest
	checked  bool
}

// sample is the first time the shipper saw the log reach seq.
type sample struct {
	seq uint64
	at  time.Time
}

const maxSamples = 4096

func (c *colState) stagingDir() string   { return StagingDir(c.src.Dir()) }
func (c *colState) manifestCopy() string { return filepath.Join(c.tierDir, ManifestName) }
func (c *colState) key(rel string) string {
	return c.prefix + rel
}

// relKey turns a full key of this collection back into a relative one.
func (c *colState) relKey(key string) (string, bool) {
	return strings.CutPrefix(key, c.prefix)
}

func (c *colState) sortQueue() {
	sort.SliceStable(c.queue, func(i, j int) bool {
		a, b := c.queue[i], c.queue[j]
		if a.last != b.last {
			return a.last < b.last
		}
		return a.kind < b.kind
	})
}

func (c *colState) find(rel string) *artifact {
	for _, a := range c.queue {
		if a.rel == rel {
			return a
		}
	}
	return nil
}

func (c *colState) remove(a *artifact) {
	for i, q := range c.queue {
		if q == a {
			c.queue = append(c.queue[:i], c.queue[i+1:]...)
			break
		}
	}
	if a.own {
		if err := c.fs.Remove(a.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// A leftover staging file is removed at the next start.
			_ = err
		}
	}
}

// updateHolds publishes what the engine must keep: the log after the
// manifest's reach, and the snapshots in the queue.
func (c *colState) updateHolds() {
	held := map[uint64]bool{}
	for _, a := range c.queue {
		if a.kind == KindSnapshot {
			held[a.last] = true
		}
	}
	var (
		shipped, gen uint64
		newest       *Object
	)
	if c.man != nil {
		shipped, gen = c.man.ShippedSeq, c.man.Generation
		if n := len(c.man.Snapshots); n > 0 {
			o := c.man.Snapshots[n-1]
			newest = &o
		}
	}
	c.hold.Lock()
	c.held, c.shipped = held, shipped
	c.pending, c.newest, c.gen = len(c.queue), newest, gen
	c.manifest, c.checked = c.man, c.remoteChecked
	// Samples at or below what is shipped are no longer unshipped.
	i := 0
	for i < len(c.samples) && c.samples[i].seq <= shipped {
		i++
	}
	c.samples = c.samples[i:]
	c.hold.Unlock()
}

// sample notes when the log first reached its current end, for the ship
// lag (precise to the sampling period, a second).
func (c *colState) sample(now time.Time) {
	seq := c.src.LastSeq()
	c.hold.Lock()
	defer c.hold.Unlock()
	c.durable = seq
	if seq <= c.shipped || (len(c.samples) > 0 && c.samples[len(c.samples)-1].seq >= seq) {
		return
	}
	if len(c.samples) >= maxSamples {
		// Thin out every other sample: the oldest (what the lag is
		// measured from) always stays.
		kept := c.samples[:1]
		for i := 2; i < len(c.samples); i += 2 {
			kept = append(kept, c.samples[i])
		}
		c.samples = kept
	}
	c.samples = append(c.samples, sample{seq: seq, at: now})
}

// lag is the age of the oldest acknowledged write not yet shipped.
func (c *colState) lag(now time.Time) (time.Duration, time.Time) {
	c.hold.Lock()
	defer c.hold.Unlock()
	if len(c.samples) == 0 {
		return 0, time.Time{}
	}
	at := c.samples[0].at
	return max(0, now.Sub(at)), at
}

func artifactFromEntry(c *colState, e meta.DLQEntry) *artifact {
	rel, _ := c.relKey(e.ObjectKey)
	return &artifact{kind: e.Kind, first: e.FirstSeq, last: e.LastSeq, rel: rel, path: e.LocalFile, size: e.Size, sha: e.SHA256,
		own: e.Kind != KindSnapshot, state: queued, dlqID: e.ID}
}

// readLocalManifest reads the tier's copy of the last manifest written
// (nil, nil if there is none).
func readLocalManifest(fsys wal.FS, path string) (*Manifest, error) {
	b, err := readAll(fsys, path, maxManifestBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return DecodeManifest(b)
}

// writeLocalManifest replaces the local copy durably (temp, fsync, rename,
// directory fsync).
func writeLocalManifest(fsys wal.FS, path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	_, err = f.WriteAt(b, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, path)
	}
	if err != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return fsys.SyncDir(filepath.Dir(path))
}

// StagingDir is where the tier stages a collection's objects: log chunks
// it cuts, and the Parquet exports the engine writes at each checkpoint
// (ParquetFileName) for the shipper to upload after their snapshot.
func StagingDir(collectionDir string) string { return filepath.Join(collectionDir, "tier", "staging") }

// ParquetFileName is the name of the Parquet export of the snapshot at seq
// in StagingDir.
func ParquetFileName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, parquetExt) }

// parquetSeq parses a ParquetFileName.
func parquetSeq(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, parquetExt)
	if !ok || len(base) != 20 {
		return 0, false
	}
	var seq uint64
	if _, err := fmt.Sscanf(base, "%020d", &seq); err != nil {
		return 0, false
	}
	return seq, true
}

// removeOrphanStaging deletes staged log chunks no DLQ entry refers to: a
// crash left them, and their records are still in the log. Parquet exports
// stay: the engine wrote them at a checkpoint and cannot write them again;
// the shipper ships or removes them with their snapshot.
func removeOrphanStaging(fsys wal.FS, dir string, keep map[string]bool) error {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if _, isParquet := parquetSeq(n); keep[p] || isParquet {
			continue
		}
		if err := fsys.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
