package wal

import (
	"fmt"
	"log/slog"
	"os"
)

// logScan is the result of scanning a log directory segment by segment.
type logScan struct {
	listing  dirListing
	segs     []segScan // in sequence order; stops at the first problem unless all
	problems []Problem
	// problemSeg is the index in segs of the segment holding problems[0].
	problemSeg int
}

// scanLog reads every segment of dir in order and checks each one and the
// sequence continuity between them. With all=false it stops at the first
// problem (what Open and Repair act on); with all=true it reports every
// problem it can find (what Verify shows). It modifies nothing.
func scanLog(fsys FS, dir string, all bool) (logScan, error) {
	var ls logScan
	listing, err := listDir(fsys, dir)
	if err != nil {
		return ls, err
	}
	ls.listing = listing
	for i, seg := range listing.segments {
		isLast := i == len(listing.segments)-1
		sc, err := scanSegmentFile(fsys, seg, scanOptions{isLast: isLast, all: all})
		if err != nil {
			return ls, err
		}
		var found []Problem
		if i > 0 {
			prev := ls.segs[i-1]
			if want := prev.lastSeq + 1; seg.firstSeq != want {
				found = append(found, Problem{Kind: Corruption, Segment: seg.path, Offset: 0,
					Reason: fmt.Sprintf("sequence break: previous segment %s ends at seq %d, this one starts at %d", prev.path, prev.lastSeq, seg.firstSeq)})
			}
		}
		found = append(found, sc.problems...)
		ls.segs = append(ls.segs, sc)
		if len(found) > 0 {
			if len(ls.problems) == 0 {
				ls.problemSeg = i
			}
			ls.problems = append(ls.problems, found...)
			if !all {
				return ls, nil
			}
		}
	}
	return ls, nil
}

func scanSegmentFile(fsys FS, seg segmentFile, o scanOptions) (segScan, error) {
	f, err := fsys.OpenFile(seg.path, os.O_RDONLY, 0)
	if err != nil {
		return segScan{}, fmt.Errorf("wal: open %s: %w", seg.path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return segScan{}, fmt.Errorf("wal: stat %s: %w", seg.path, err)
	}
	return scanSegment(f, fi.Size(), seg.path, seg.firstSeq, o)
}

// cutTornTail saves the torn bytes of the last segment as "<segment>.broken"
// (or .broken.N) and truncates the segment to its last whole batch. The copy
// is durable before the segment is touched, so a crash in between at worst
// leaves a second copy next time.
func cutTornTail(fsys FS, sc segScan, logger *slog.Logger) (string, error) {
	p := sc.problems[0]
	f, err := fsys.OpenFile(sc.path, os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("wal: open %s to cut torn tail: %w", sc.path, err)
	}
	defer f.Close()
	evidence, err := saveEvidence(fsys, f, sc.path, p.Offset, sc.tornEnd, brokenSuffix)
	if err != nil {
		return "", fmt.Errorf("wal: save torn tail of %s: %w", sc.path, err)
	}
	if err := cutSegment(f, p.Offset); err != nil {
		return "", fmt.Errorf("wal: cut torn tail: %w", err)
	}
	logger.Warn("wal: truncated torn tail of last segment",
		"segment", sc.path, "offset", p.Offset, "bytes", sc.tornEnd-p.Offset,
		"saved_as", evidence, "last_seq", sc.lastSeq, "reason", p.Reason)
	return evidence, nil
}

// removeTmp deletes half-created segments. They never held a record: a
// segment is renamed into place before anything is appended to it.
func removeTmp(fsys FS, dir string, tmp []string, logger *slog.Logger) error {
	for _, path := range tmp {
		if err := fsys.Remove(path); err != nil {
			return fmt.Errorf("wal: remove unfinished segment %s: %w", path, err)
		}
		logger.Info("wal: removed unfinished segment", "file", path)
	}
	if len(tmp) > 0 {
		if err := fsys.SyncDir(dir); err != nil {
			return fmt.Errorf("wal: sync dir %s: %w", dir, err)
		}
	}
	return nil
}
