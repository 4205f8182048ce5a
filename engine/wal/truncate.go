package wal

import (
	"fmt"
	"slices"
)

// TruncateBefore removes every segment all of whose records have sequence
// numbers below seq (called once a checkpoint covers them). The active
// segment is never removed, so FirstSeq may stay below seq. Segments go
// oldest first, so a crash or error part way leaves a log that still starts
// cleanly; the directory is fsynced afterwards. An error here does not
// fail the log: no acknowledged data is at stake.
func (l *Log) TruncateBefore(seq uint64) error {
	l.retireMu.Lock()
	defer l.retireMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	// Segment i holds [segs[i].firstSeq, segs[i+1].firstSeq).
	n := 0
	for n+1 < len(l.segs) && l.segs[n+1].firstSeq <= seq {
		n++
	}
	victims := slices.Clone(l.segs[:n])
	l.mu.Unlock()

	removed := 0
	var err error
	for _, v := range victims {
		if rerr := l.fs.Remove(v.path); rerr != nil {
			err = fmt.Errorf("wal: remove segment %s: %w", v.path, rerr)
			break
		}
		removed++
	}
	if removed == 0 {
		return err
	}
	// Only the committer appends to segs (on roll), so the first entries
	// are still the ones removed.
	l.mu.Lock()
	l.segs = slices.Clone(l.segs[removed:])
	l.mu.Unlock()
	if serr := l.fs.SyncDir(l.dir); serr != nil && err == nil {
		err = fmt.Errorf("wal: sync dir %s after removing segments: %w", l.dir, serr)
	}
	l.logger.Debug("wal: removed old segments", "count", removed, "before_seq", seq)
	return err
}
