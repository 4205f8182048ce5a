package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
)

// DirReplay says what ReplayDir read.
type DirReplay struct {
	// FirstSeq and LastSeq bound the records the log holds (after a torn
	// tail is set aside); LastSeq < FirstSeq when it holds none.
	FirstSeq, LastSeq uint64
	// Records is how many records were passed to fn.
	Records int
	// TornTail is the torn tail that ended the last segment, if any. Its
	// records were never acknowledged; Open would cut them off.
	TornTail *Problem
}

// ReplayDir is Replay for a log that no process has open (the caller holds
// the data directory's lock), read without opening it: it never writes,
// cuts, creates or deletes anything, so an offline reader such as
// `akidb export` leaves the directory exactly as it found it. It calls fn
// for every record with sequence number >= fromSeq, in order.
//
// A torn tail in the last segment ends the log where Open would cut it
// (reported in DirReplay.TornTail); corruption fails with a
// *CorruptionError, as Open would. A missing directory is an empty log. A
// log that starts after fromSeq while holding records from there on
// returns an error wrapping ErrMissingRecords; one that ends before
// fromSeq yields nothing (the caller compares LastSeq).
func ReplayDir(fsys FS, dir string, fromSeq uint64, fn func(seq uint64, typ byte, payload []byte) error) (DirReplay, error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	// An empty log holds nothing from fromSeq on.
	empty := DirReplay{FirstSeq: max(fromSeq, 1), LastSeq: max(fromSeq, 1) - 1}
	var out DirReplay
	if _, err := fsys.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return empty, nil
		}
		return out, fmt.Errorf("wal: read %s: %w", dir, err)
	}
	ls, err := scanLog(fsys, dir, false)
	if err != nil {
		return out, err
	}
	if len(ls.problems) > 0 {
		p := ls.problems[0]
		if p.Kind != TornTail {
			return out, p.corruptionError()
		}
		out.TornTail = &p
	}
	if len(ls.segs) == 0 {
		empty.TornTail = out.TornTail
		return empty, nil
	}
	segs := make([]segmentMeta, len(ls.segs))
	for i, sc := range ls.segs {
		segs[i] = segmentMeta{path: sc.path, firstSeq: sc.firstSeq, end: sc.end}
	}
	out.FirstSeq, out.LastSeq = ls.segs[0].firstSeq, ls.segs[len(ls.segs)-1].lastSeq
	if fromSeq == 0 {
		fromSeq = out.FirstSeq
	}
	if fromSeq > out.LastSeq {
		return out, nil
	}
	if fromSeq < out.FirstSeq {
		return out, fmt.Errorf("%w: read from seq %d asked, but the log in %s starts at %d", ErrMissingRecords, fromSeq, dir, out.FirstSeq)
	}
	count := func(seq uint64, typ byte, payload []byte) error {
		out.Records++
		return fn(seq, typ, payload)
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].firstSeq > fromSeq }) - 1
	for ; i < len(segs); i++ {
		if err := replaySegment(fsys, segs[i], fromSeq, count); err != nil {
			return out, err
		}
	}
	return out, nil
}
