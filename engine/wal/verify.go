package wal

import (
	"fmt"
)

// SegmentReport describes one segment as Verify read it.
type SegmentReport struct {
	Path     string
	FirstSeq uint64 // from the file name
	LastSeq  uint64 // last readable record; FirstSeq-1 if none
	Records  int    // readable records
	Size     int64  // file size, preallocated space included
	End      int64  // offset after the last whole batch before any problem
}

// Report is what Verify found. Problems is empty for a healthy log.
type Report struct {
	Dir      string
	Segments []SegmentReport
	Problems []Problem
	// Records, FirstSeq and LastSeq summarise the readable records.
	Records           int
	FirstSeq, LastSeq uint64
	// Evidence lists .broken and .corrupt files left by earlier recoveries
	// and repairs; they are not problems, but someone may want to look.
	Evidence []string
	// Unfinished lists *.wal.tmp files (segments whose creation was cut off
	// by a crash); Open deletes them, they never hold records.
	Unfinished []string
}

// OK reports whether the log has no problem at all.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// NeedsRepair reports whether Open would refuse the log (there is
// corruption; a torn tail alone is handled by Open).
func (r *Report) NeedsRepair() bool {
	for _, p := range r.Problems {
		if p.Kind == Corruption {
			return true
		}
	}
	return false
}

// Verify reads every segment in dir and reports every problem it can find
// (it resynchronises after damage to look further), without modifying
// anything. It is safe to run while the log is open elsewhere, though the
// tail may then be mid-write. The error is for failures to read; findings
// are in the Report. fsys nil means OSFS.
func Verify(fsys FS, dir string) (*Report, error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	if _, err := fsys.Stat(dir); err != nil {
		return nil, fmt.Errorf("wal: verify %s: %w", dir, err)
	}
	ls, err := scanLog(fsys, dir, true)
	if err != nil {
		return nil, err
	}
	r := &Report{
		Dir:        dir,
		Problems:   ls.problems,
		Evidence:   ls.listing.leftovers,
		Unfinished: ls.listing.tmp,
	}
	for _, sc := range ls.segs {
		r.Segments = append(r.Segments, SegmentReport{
			Path: sc.path, FirstSeq: sc.firstSeq, LastSeq: sc.lastSeq,
			Records: sc.records, Size: sc.size, End: sc.end,
		})
		r.Records += sc.records
	}
	if len(ls.segs) > 0 {
		r.FirstSeq = ls.segs[0].firstSeq
		r.LastSeq = ls.segs[len(ls.segs)-1].lastSeq
	}
	return r, nil
}
