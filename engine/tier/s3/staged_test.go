package s3_test

// What a power cut (or anything else) can leave of the tier's staged files
// behind a pending upload or a dead-letter queue entry: a file that is
// missing, empty or cut short. Each case damages the file between two runs
// of the engine, drives the shipper and the DLQ worker directly, and then
// checks the store: nothing stuck, nothing shipped that is not what was
// staged, and a restore from MinIO with every acknowledged record.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/tier/s3"
	"github.com/akidb/akidb/engine/tier/s3/s3test"
	"github.com/akidb/akidb/export"
)

const stagedDim = 16

// damage is what the file is left as.
type damage struct {
	name string
	do   func(t *testing.T, path string)
}

var damages = []damage{
	{"missing", func(t *testing.T, p string) {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}},
	{"empty", func(t *testing.T, p string) {
		if err := os.Truncate(p, 0); err != nil {
			t.Fatal(err)
		}
	}},
	{"truncated", func(t *testing.T, p string) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
	}},
}

// stagedRig is one collection shipped to its own bucket, reopened at will.
type stagedRig struct {
	t     *testing.T
	store *s3.Store
	fs    *tier.FaultStore
	clock *tier.ManualClock
	dir   string
	db    *engine.DB
	h     *engine.Handle
	want  map[string]bool
	n     int
}

func newStagedRig(t *testing.T, srv *s3test.Server, bucket string) *stagedRig {
	r := &stagedRig{t: t, store: srv.Store(t, bucket), clock: tier.NewManualClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)),
		dir: t.TempDir(), want: map[string]bool{}}
	r.open()
	if _, err := r.db.CreateCollection(bg, engine.DefaultTenant, engine.CollectionConfig{Name: "docs", Dimension: stagedDim, Metric: distance.L2,
		EfConstruction: 40, TierPolicy: engine.TierMemoryS3}); err != nil {
		t.Fatal(err)
	}
	r.h, _ = r.db.Collection(engine.DefaultTenant, "docs")
	return r
}

func (r *stagedRig) open() {
	r.fs = tier.NewFaultStore(r.store)
	cfg := tierConfig(r.fs, r.clock, nil)
	cfg.Tier.Parquet = func(ctx context.Context, w io.Writer, v *engine.RecordView) error {
		_, err := export.WriteParquet(ctx, w, v, export.Options{})
		return err
	}
	r.db = open(r.t, r.dir, cfg)
	if r.h != nil {
		var err error
		if r.h, err = r.db.Collection(engine.DefaultTenant, "docs"); err != nil {
			r.t.Fatal(err)
		}
	}
}

// restart closes the engine (a clean close: its last checkpoint writes a
// snapshot only if something was written since the last one) and opens it
// again after hurt has damaged its files.
func (r *stagedRig) restart(hurt func()) {
	r.t.Helper()
	if err := r.db.Close(); err != nil {
		r.t.Fatal(err)
	}
	hurt()
	r.open()
}

func (r *stagedRig) write(n int) {
	r.t.Helper()
	rs := records("w", r.n, r.n+n, stagedDim)
	r.n += n
	for i := 0; i < len(rs); i += 50 {
		if err := r.h.Upsert(bg, rs[i:min(i+50, len(rs))]); err != nil {
			r.t.Fatal(err)
		}
	}
	for _, rec := range rs {
		r.want[rec.ID] = true
	}
}

func (r *stagedRig) checkpoint() {
	r.t.Helper()
	if err := r.h.Checkpoint(); err != nil {
		r.t.Fatal(err)
	}
}

func (r *stagedRig) ship() error { return r.db.Tier().ShipOnce(bg) }

// failUploads makes every upload fail and ships: what the pass staged goes
// to the DLQ.
func (r *stagedRig) failUploads() {
	r.t.Helper()
	r.fs.FailAlways(tier.OpPut, errors.New("injected: the store refuses uploads"))
	if err := r.ship(); err == nil {
		r.t.Fatal("a pass with failing uploads reported no error")
	}
	r.fs.Heal()
}

func (r *stagedRig) dlq() []meta.DLQEntry {
	r.t.Helper()
	es, err := r.db.Meta().ListDLQ(bg, meta.DLQFilter{}, 0, 100)
	if err != nil {
		r.t.Fatal(err)
	}
	return es
}

func (r *stagedRig) entry(kind string) meta.DLQEntry {
	r.t.Helper()
	for _, e := range r.dlq() {
		if e.Kind == kind && e.Operation == meta.DLQUpload {
			return e
		}
	}
	r.t.Fatalf("no queued %s upload in the DLQ: %+v", kind, r.dlq())
	return meta.DLQEntry{}
}

func (r *stagedRig) stagingDir() string {
	return tier.StagingDir(filepath.Join(r.dir, "collections", r.h.Info().ID))
}

// settle runs the DLQ worker and a ship pass, as the background loops
// would.
func (r *stagedRig) settle() {
	r.t.Helper()
	if _, err := r.db.Tier().DLQ().RunOnce(bg); err != nil {
		r.t.Fatal(err)
	}
	if err := r.ship(); err != nil {
		r.t.Fatalf("ship pass: %v", err)
	}
}

// checkStore checks that everything acknowledged is shipped and that the
// DLQ holds no upload (but the allowed ones), that every object in the
// manifest is what it claims (a Parquet export opens and holds the rows of
// its snapshot), and that a restore from MinIO into a fresh directory
// holds every acknowledged record.
func (r *stagedRig) checkStore(allowed ...int64) *tier.Manifest {
	r.t.Helper()
	ok := map[int64]bool{}
	for _, id := range allowed {
		ok[id] = true
	}
	for _, e := range r.dlq() {
		if !ok[e.ID] {
			r.t.Fatalf("DLQ entry %d (%s %s) left: %s, %d retries, %q", e.ID, e.Status, e.ObjectKey, e.Status, e.RetryCount, e.LastError)
		}
	}
	st, ok2 := r.db.Tier().CollectionStatus(r.h.Info().ID)
	if !ok2 {
		r.t.Fatal("the collection is not shipped")
	}
	if st.ShippedSeq != st.DurableSeq {
		r.t.Fatalf("shipped up to %d, the log is durable up to %d: acknowledged writes are not in the store", st.ShippedSeq, st.DurableSeq)
	}
	found, err := tier.FindShipped(bg, r.store, prefix, "default", "docs", "")
	if err != nil {
		r.t.Fatal(err)
	}
	m := found.Manifest
	for _, p := range m.Parquet {
		data, err := tier.DownloadBytes(bg, r.store, found.Key, p)
		if err != nil {
			r.t.Fatalf("Parquet %s: %v", p.Key, err)
		}
		pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			r.t.Fatalf("the store holds a Parquet export that does not open (%s, %d bytes): %v", p.Key, len(data), err)
		}
		if pf.NumRows() == 0 {
			r.t.Fatalf("Parquet %s holds no rows", p.Key)
		}
	}
	fresh := r.t.TempDir()
	res, err := engine.Restore(bg, fresh, engine.Config{}, engine.RestoreOptions{Store: r.store, Prefix: prefix, Name: "docs"})
	if err != nil {
		r.t.Fatalf("restore: %v", err)
	}
	if res.ToSeq != st.DurableSeq {
		r.t.Fatalf("restored up to %d, %d is durable", res.ToSeq, st.DurableSeq)
	}
	rdb := open(r.t, fresh, engine.Config{})
	defer rdb.Close()
	rh, err := rdb.Collection(engine.DefaultTenant, "docs")
	if err != nil {
		r.t.Fatal(err)
	}
	checkHolds(r.t, rh, r.want, stagedDim)
	return m
}

// A staged log chunk behind a DLQ entry is damaged: the entry is resolved
// and the records are cut again from the local log, so the log after it
// ships too.
func TestDamagedStagedLogChunkIsCutAgainFromTheLocalLog(t *testing.T) {
	srv := s3test.Start(t)
	for i, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			r := newStagedRig(t, srv, fmt.Sprintf("log%d", i))
			defer func() { r.db.Close() }()
			r.write(200)
			r.checkpoint()
			if err := r.ship(); err != nil {
				t.Fatal(err)
			}
			// More than one chunk (64 KiB each): the first is damaged, and
			// the ones after it must not wait for it forever.
			r.write(900)
			r.failUploads()
			var logs []meta.DLQEntry
			for _, e := range r.dlq() {
				if e.Kind == tier.KindLog {
					logs = append(logs, e)
				}
			}
			if len(logs) < 2 {
				t.Fatalf("%d log chunks queued, want at least 2", len(logs))
			}
			e := logs[0]
			for _, l := range logs {
				if l.FirstSeq < e.FirstSeq {
					e = l
				}
			}
			// The close checkpoints: the newest snapshot covers the chunk,
			// but only the log after the older one serves a restore to a
			// point between them, and the writes after the restart follow
			// the chunk.
			r.restart(func() { d.do(t, e.LocalFile) })
			r.write(50)
			r.settle()
			m := r.checkStore()
			// The log is whole from the first snapshot on.
			if got := m.Segments[0].FirstSeq; got != m.Snapshots[0].LastSeq+1 {
				t.Fatalf("the shipped log starts at %d, after the snapshot at %d", got, m.Snapshots[0].LastSeq)
			}
			if _, err := m.Plan(m.Snapshots[0].LastSeq + 1); err != nil {
				t.Fatalf("a restore between the snapshots: %v", err)
			}
		})
	}
}

// A Parquet export written at a checkpoint is damaged before the shipper
// stages it (the power went before the pass): it is not shipped as it is;
// the snapshot ships.
func TestDamagedParquetExportIsNotShipped(t *testing.T) {
	srv := s3test.Start(t)
	for i, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			r := newStagedRig(t, srv, fmt.Sprintf("pqstage%d", i))
			defer func() { r.db.Close() }()
			r.write(200)
			r.checkpoint()
			if err := r.ship(); err != nil {
				t.Fatal(err)
			}
			r.write(150)
			r.checkpoint()
			seqs, _ := r.h.Snapshots()
			pq := filepath.Join(r.stagingDir(), tier.ParquetFileName(seqs[0]))
			r.restart(func() { d.do(t, pq) })
			if err := r.ship(); err != nil {
				t.Fatalf("ship pass: %v", err)
			}
			m := r.checkStore()
			if m.NewestSnapshot() != seqs[0] {
				t.Fatalf("newest shipped snapshot %d, want %d", m.NewestSnapshot(), seqs[0])
			}
			if _, err := os.Stat(pq); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the damaged export is still staged: %v", err)
			}
		})
	}
}

// A Parquet export behind a DLQ entry is damaged: the entry is resolved
// (the export is lost, its snapshot is not) instead of failing until it
// is permanent.
func TestDamagedParquetExportInTheDLQIsResolved(t *testing.T) {
	srv := s3test.Start(t)
	for i, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			r := newStagedRig(t, srv, fmt.Sprintf("pqdlq%d", i))
			defer func() { r.db.Close() }()
			r.write(200)
			r.checkpoint()
			if err := r.ship(); err != nil {
				t.Fatal(err)
			}
			r.write(150)
			r.checkpoint()
			r.failUploads()
			e := r.entry(tier.KindParquet)
			r.restart(func() { d.do(t, e.LocalFile) })
			r.settle()
			m := r.checkStore()
			for _, p := range m.Parquet {
				if p.LastSeq == e.LastSeq {
					t.Fatalf("the damaged export %s is in the manifest", p.Key)
				}
			}
		})
	}
}

// The local snapshot behind a DLQ entry is missing or damaged: the entry
// turns permanent at once, with an error naming the file and what to do;
// the log ships meanwhile, so a restore has every record; the next
// checkpoint's snapshot supersedes the entry.
func TestDamagedSnapshotInTheDLQIsPermanentWithAClearError(t *testing.T) {
	srv := s3test.Start(t)
	for i, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			r := newStagedRig(t, srv, fmt.Sprintf("snap%d", i))
			defer func() { r.db.Close() }()
			r.write(200)
			r.checkpoint()
			if err := r.ship(); err != nil {
				t.Fatal(err)
			}
			r.write(150)
			r.checkpoint()
			r.failUploads()
			e := r.entry(tier.KindSnapshot)
			r.restart(func() { d.do(t, e.LocalFile) })
			if _, err := r.db.Tier().DLQ().RunOnce(bg); err != nil {
				t.Fatal(err)
			}
			got, err := r.db.Meta().GetDLQEntry(bg, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != meta.DLQPermanent || !strings.Contains(got.LastError, e.LocalFile) || !strings.Contains(got.LastError, "checkpoint") {
				t.Fatalf("entry after one retry: %s, %d retries, %q", got.Status, got.RetryCount, got.LastError)
			}
			r.write(50)
			if err := r.ship(); err != nil {
				t.Fatalf("ship pass: %v", err)
			}
			r.checkStore(e.ID)
			// A write and a checkpoint: the new snapshot supersedes it.
			r.write(10)
			r.checkpoint()
			if err := r.ship(); err != nil {
				t.Fatalf("ship pass: %v", err)
			}
			r.checkStore()
		})
	}
}

// The tier's copy of the manifest is damaged: the store's is read before
// anything is shipped.
func TestDamagedManifestCopyIsReadFromTheStore(t *testing.T) {
	srv := s3test.Start(t)
	for i, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			r := newStagedRig(t, srv, fmt.Sprintf("man%d", i))
			defer func() { r.db.Close() }()
			r.write(200)
			r.checkpoint()
			if err := r.ship(); err != nil {
				t.Fatal(err)
			}
			r.write(150)
			if err := r.ship(); err != nil {
				t.Fatal(err)
			}
			copyPath := filepath.Join(r.dir, "collections", r.h.Info().ID, "tier", tier.ManifestName)
			r.restart(func() { d.do(t, copyPath) })
			r.write(50)
			if err := r.ship(); err != nil {
				t.Fatalf("ship pass: %v", err)
			}
			r.checkStore()
		})
	}
}
