package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/akidb/akidb/engine/dirlock"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/wal"
)

// FsckOptions control Fsck.
type FsckOptions struct {
	// Repair truncates torn log tails, moves damaged log segments and
	// snapshots aside (renamed *.corrupt, never deleted), moves directories
	// the catalog does not know to lost+found and removes catalog entries
	// whose directory is gone.
	Repair bool
	Logger *slog.Logger
}

// FsckSnapshot is one snapshot file's check.
type FsckSnapshot struct {
	Seq   uint64 `json:"seq"`
	Bytes uint64 `json:"payload_bytes"`
	Error string `json:"error,omitempty"`
	// Newer: a newer AkiDB wrote it (StateVersionError). It is reported,
	// since this binary cannot open the collection, but not damage:
	// --repair leaves it alone.
	Newer bool `json:"newer_version,omitempty"`
}

// FsckCollection is one collection's findings.
type FsckCollection struct {
	ID          string         `json:"id"`
	Tenant      string         `json:"tenant"`
	Name        string         `json:"name"`
	State       string         `json:"state"`
	LogRecords  int            `json:"log_records"`
	LogFirstSeq uint64         `json:"log_first_seq"`
	LogLastSeq  uint64         `json:"log_last_seq"`
	Snapshots   []FsckSnapshot `json:"snapshots"`
	// StoreSnapshot is, for a memory-s3 or s3-only collection, the newest
	// snapshot its copy of the store's manifest lists (0: none): an
	// s3-only collection's local snapshots are a cache, and a load
	// downloads this one when the local ones do not reach the log.
	StoreSnapshot uint64   `json:"store_snapshot,omitempty"`
	Problems      []string `json:"problems,omitempty"`
}

// FsckReport is everything Fsck found and did.
type FsckReport struct {
	DataDir       string           `json:"data_dir"`
	SchemaVersion int              `json:"schema_version"`
	Catalog       []string         `json:"catalog_problems,omitempty"`
	Collections   []FsckCollection `json:"collections"`
	Orphans       []string         `json:"orphan_dirs,omitempty"`
	Problems      int              `json:"problems"`
	Repairs       []string         `json:"repairs,omitempty"`
	// Remaining counts the problems left after a repair (equal to
	// Problems without --repair).
	Remaining int `json:"remaining_problems"`
}

// OK reports whether nothing needs attention after the run.
func (r *FsckReport) OK() bool { return r.Remaining == 0 }

// Fsck checks a data directory that no server has open: the SQLite
// catalog's integrity, every log record's and snapshot's checksum, and
// that the catalog and the collection directories agree. With Repair it
// then fixes what it can without deleting data and checks again.
func Fsck(dir string, opts FsckOptions) (*FsckReport, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	lock, err := dirlock.Acquire(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	rep, err := fsckPass(dir, opts.Logger)
	if err != nil || !opts.Repair || rep.Problems == 0 {
		if rep != nil {
			rep.Remaining = rep.Problems
		}
		return rep, err
	}
	repairs, err := fsckRepair(dir, rep, opts.Logger)
	if err != nil {
		return rep, err
	}
	after, err := fsckPass(dir, opts.Logger)
	if err != nil {
		return rep, err
	}
	after.Repairs = repairs
	after.Remaining = after.Problems
	after.Problems = rep.Problems
	return after, nil
}

func fsckPass(dir string, logger *slog.Logger) (*FsckReport, error) {
	rep := &FsckReport{DataDir: dir, Collections: []FsckCollection{}}
	ctx := context.Background()
	store, err := meta.Open(ctx, filepath.Join(dir, meta.FileName), logger)
	if err != nil {
		rep.Catalog = append(rep.Catalog, err.Error())
		rep.Problems++
		return rep, nil
	}
	defer store.Close()
	if v, err := store.SchemaVersion(ctx); err == nil {
		rep.SchemaVersion = v
	}
	if problems, err := store.IntegrityCheck(ctx); err != nil {
		rep.Catalog = append(rep.Catalog, err.Error())
	} else {
		rep.Catalog = append(rep.Catalog, problems...)
	}
	rep.Problems += len(rep.Catalog)
	rows, err := store.ListCollections(ctx, "")
	if err != nil {
		rep.Catalog = append(rep.Catalog, err.Error())
		rep.Problems++
		return rep, nil
	}
	colsDir := filepath.Join(dir, "collections")
	known := map[string]bool{}
	for _, row := range rows {
		known[row.ID] = true
		fc := fsckCollection(filepath.Join(colsDir, row.ID), row)
		rep.Problems += len(fc.Problems)
		rep.Collections = append(rep.Collections, fc)
	}
	entries, err := os.ReadDir(colsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return rep, fmt.Errorf("list %s: %w", colsDir, err)
	}
	for _, e := range entries {
		if !known[e.Name()] {
			rep.Orphans = append(rep.Orphans, e.Name())
			rep.Problems++
		}
	}
	return rep, nil
}

func fsckCollection(cdir string, row meta.Collection) FsckCollection {
	fc := FsckCollection{ID: row.ID, Tenant: row.TenantID, Name: row.Name, State: row.State, Snapshots: []FsckSnapshot{}}
	if row.State != meta.StateReady {
		// Not damage: the next open finishes the interrupted change.
		return fc
	}
	if _, err := os.Stat(cdir); err != nil {
		fc.Problems = append(fc.Problems, fmt.Sprintf("catalog entry without a directory (%s): its data is gone", cdir))
		return fc
	}
	fsys := wal.OSFS{}
	snapDir := filepath.Join(cdir, "snapshots")
	seqs, err := snapshot.List(fsys, snapDir)
	if err != nil {
		fc.Problems = append(fc.Problems, err.Error())
	}
	var newestGood uint64
	haveGood := false
	for _, seq := range seqs {
		s := FsckSnapshot{Seq: seq}
		path := filepath.Join(snapDir, snapshot.FileName(seq))
		_, n, err := snapshot.Verify(fsys, path)
		s.Bytes = n
		if err == nil {
			// Checksums hold; also make sure the state inside decodes.
			if c, derr := readSnapshot(fsys, snapDir, seq, vectorsEnv(fsys, filepath.Join(cdir, "vectors"), true)); derr != nil {
				err = derr
			} else {
				_ = c.closeVectors()
			}
		}
		var ve *StateVersionError
		if err != nil {
			s.Error, s.Newer = err.Error(), errors.As(err, &ve)
			fc.Problems = append(fc.Problems, fmt.Sprintf("snapshot %d: %v", seq, err))
		} else if !haveGood {
			newestGood, haveGood = seq, true
		}
		fc.Snapshots = append(fc.Snapshots, s)
	}
	walRep, err := wal.Verify(fsys, filepath.Join(cdir, "wal"))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			fc.Problems = append(fc.Problems, err.Error())
		}
		return fc
	}
	fc.LogRecords, fc.LogFirstSeq, fc.LogLastSeq = walRep.Records, walRep.FirstSeq, walRep.LastSeq
	for _, p := range walRep.Problems {
		fc.Problems = append(fc.Problems, p.String())
	}
	if m, err := readManifestCopy(cdir, row.ID); err == nil && m != nil && (row.TierPolicy == meta.TierMemoryS3 || row.TierPolicy == meta.TierS3Only) {
		fc.StoreSnapshot = m.NewestSnapshot()
		newestGood = max(newestGood, fc.StoreSnapshot)
	}
	if walRep.Records > 0 && walRep.FirstSeq > newestGood+1 {
		fc.Problems = append(fc.Problems, fmt.Sprintf("log starts at sequence %d but the newest intact snapshot covers only up to %d: records are missing", walRep.FirstSeq, newestGood))
	}
	return fc
}

func fsckRepair(dir string, rep *FsckReport, logger *slog.Logger) ([]string, error) {
	var done []string
	fsys := wal.OSFS{}
	colsDir := filepath.Join(dir, "collections")
	ctx := context.Background()
	for _, fc := range rep.Collections {
		if len(fc.Problems) == 0 {
			continue
		}
		cdir := filepath.Join(colsDir, fc.ID)
		if _, err := os.Stat(cdir); errors.Is(err, os.ErrNotExist) {
			store, err := meta.Open(ctx, filepath.Join(dir, meta.FileName), logger)
			if err != nil {
				return done, err
			}
			err = store.MarkCollectionDropping(ctx, fc.ID)
			if err == nil {
				err = store.DeleteCollection(ctx, fc.ID)
			}
			_ = store.Close()
			if err != nil {
				return done, err
			}
			done = append(done, fmt.Sprintf("%s/%s: removed the catalog entry whose directory was gone", fc.Tenant, fc.Name))
			continue
		}
		for _, s := range fc.Snapshots {
			if s.Error == "" || s.Newer {
				continue
			}
			from := filepath.Join(cdir, "snapshots", snapshot.FileName(s.Seq))
			to := from + ".corrupt"
			if err := os.Rename(from, to); err != nil {
				return done, fmt.Errorf("quarantine %s: %w", from, err)
			}
			if err := syncDir(fsys, filepath.Dir(from)); err != nil {
				return done, err
			}
			done = append(done, fmt.Sprintf("%s/%s: moved damaged snapshot aside to %s", fc.Tenant, fc.Name, to))
		}
		wr, err := wal.Repair(fsys, filepath.Join(cdir, "wal"), logger)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return done, err
		}
		if wr != nil {
			for _, c := range wr.Cut {
				done = append(done, fmt.Sprintf("%s/%s: cut log segment %s at offset %d (removed bytes kept in %s)", fc.Tenant, fc.Name, c.Segment, c.Offset, c.SavedAs))
			}
			for _, m := range wr.Quarantined {
				done = append(done, fmt.Sprintf("%s/%s: moved log segment %s aside to %s", fc.Tenant, fc.Name, m.From, m.To))
			}
		}
	}
	for _, o := range rep.Orphans {
		dst, err := moveToLostFound(fsys, dir, filepath.Join(colsDir, o))
		if err != nil {
			return done, err
		}
		done = append(done, fmt.Sprintf("moved directory %s, unknown to the catalog, to %s", o, dst))
	}
	sort.Strings(done)
	return done, nil
}

// readManifestCopy reads the tier's copy of a collection's manifest (nil
// if there is none).
func readManifestCopy(cdir, id string) (*tier.Manifest, error) {
	b, err := os.ReadFile(filepath.Join(cdir, "tier", tier.ManifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := tier.DecodeManifest(b)
	if err != nil || m.CollectionID != id {
		return nil, err
	}
	return m, nil
}
