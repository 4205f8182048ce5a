package wal

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// Cut is a segment shortened by Repair.
type Cut struct {
	Segment string
	Offset  int64  // new end of the segment
	SavedAs string // evidence file holding what was cut (or the whole segment)
}

// Move is a segment Repair moved aside.
type Move struct{ From, To string }

// RepairReport says what Repair found and did.
type RepairReport struct {
	Found       []Problem // every problem Verify saw before repairing
	Cut         []Cut
	Quarantined []Move
	// LastSeq is the last record the log holds after the repair; records
	// after it that were in the log before are only in the evidence files.
	LastSeq uint64
}

// maxRepairRounds bounds Repair's loop: each round removes the first
// problem, and after a corruption everything later is quarantined, so two
// rounds (torn tail, then nothing) suffice; the rest is a safety margin.
const maxRepairRounds = 4

// Repair makes the log in dir open again, keeping the longest valid prefix
// and deleting nothing:
//
//   - a torn tail in the last segment is cut as Open would do it (the bytes
//     kept as <segment>.broken);
//   - at the first corruption, every later segment is renamed to
//     <segment>.corrupt, and the damaged segment is either cut after its last
//     whole batch before the damage (a full copy kept as <segment>.corrupt) or,
//     if nothing in it is usable (bad header, sequence break at its start,
//     no whole batch), renamed to <segment>.corrupt too.
//
// What it loses from the log: every record from the first damaged one on,
// including valid records after the damage (they stay readable in the
// evidence files). If the first segment is quarantined the directory ends up
// with no segment and the next Open starts at Options.FirstSeq.
//
// Run it only while no Log has the directory open. fsys nil means OSFS;
// logger nil discards.
func Repair(fsys FS, dir string, logger *slog.Logger) (*RepairReport, error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	before, err := Verify(fsys, dir)
	if err != nil {
		return nil, err
	}
	rep := &RepairReport{Found: before.Problems}
	for range maxRepairRounds {
		ls, err := scanLog(fsys, dir, false)
		if err != nil {
			return rep, err
		}
		if len(ls.problems) == 0 {
			if n := len(ls.segs); n > 0 {
				rep.LastSeq = ls.segs[n-1].lastSeq
			}
			return rep, nil
		}
		p := ls.problems[0]
		sc := ls.segs[ls.problemSeg]
		if p.Kind == TornTail {
			saved, err := cutTornTail(fsys, sc, logger)
			if err != nil {
				return rep, err
			}
			rep.Cut = append(rep.Cut, Cut{Segment: sc.path, Offset: p.Offset, SavedAs: saved})
			continue
		}
		if err := repairCorruption(fsys, dir, ls, p, rep, logger); err != nil {
			return rep, err
		}
	}
	return rep, fmt.Errorf("wal: repair of %s did not converge after %d rounds", dir, maxRepairRounds)
}

// repairCorruption handles the first corruption in ls: quarantine the later
// segments (newest first, so the directory is a valid prefix at every step),
// then keep what can be kept of the damaged one.
func repairCorruption(fsys FS, dir string, ls logScan, p Problem, rep *RepairReport, logger *slog.Logger) error {
	i := ls.problemSeg
	sc := ls.segs[i]
	segs := ls.listing.segments
	for k := len(segs) - 1; k > i; k-- {
		if err := quarantine(fsys, segs[k].path, rep, logger, "follows corruption in "+sc.path); err != nil {
			return err
		}
	}
	keepPrefix := sc.headerOK && p.Offset > 0 && sc.end > segmentHeaderSize
	if !keepPrefix {
		if err := quarantine(fsys, sc.path, rep, logger, p.Reason); err != nil {
			return err
		}
		return syncDir(fsys, dir)
	}
	if err := syncDir(fsys, dir); err != nil {
		return err
	}
	f, err := fsys.OpenFile(sc.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: repair: open %s: %w", sc.path, err)
	}
	defer f.Close()
	dataEnd, err := newFileWindow(f, sc.size).lastNonZero(sc.end)
	if err != nil {
		return fmt.Errorf("wal: repair: read %s: %w", sc.path, err)
	}
	saved, err := saveEvidence(fsys, f, sc.path, 0, dataEnd, corruptSuffix)
	if err != nil {
		return fmt.Errorf("wal: repair: keep a copy of %s: %w", sc.path, err)
	}
	if err := cutSegment(f, sc.end); err != nil {
		return fmt.Errorf("wal: repair: %w", err)
	}
	rep.Cut = append(rep.Cut, Cut{Segment: sc.path, Offset: sc.end, SavedAs: saved})
	logger.Warn("wal: repair cut a corrupt segment after its last whole batch",
		"segment", sc.path, "offset", sc.end, "last_seq", sc.lastSeq, "copy", saved, "reason", p.Reason)
	return nil
}

// quarantine renames a segment to <segment>.corrupt[.N].
func quarantine(fsys FS, path string, rep *RepairReport, logger *slog.Logger, why string) error {
	to, err := freeName(fsys, path, corruptSuffix)
	if err != nil {
		return fmt.Errorf("wal: repair: %w", err)
	}
	if err := fsys.Rename(path, to); err != nil {
		return fmt.Errorf("wal: repair: move %s aside: %w", path, err)
	}
	rep.Quarantined = append(rep.Quarantined, Move{From: path, To: to})
	logger.Warn("wal: repair moved a segment aside", "segment", path, "to", to, "why", why)
	return nil
}

func syncDir(fsys FS, dir string) error {
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("wal: sync dir %s: %w", filepath.Clean(dir), err)
	}
	return nil
}
