package wal

import (
	"fmt"
	"os"
	"slices"
	"sort"
)

// Replay calls fn for every record with sequence number >= fromSeq, in
// order, up to the last record written when Replay was called. fromSeq 0
// means "from the oldest record held". payload is only valid during the call.
// An error from fn stops the replay and is returned wrapped.
//
// Asking for records the log does not hold (fromSeq below FirstSeq because
// older segments were removed, or beyond the last record + 1) returns an
// error wrapping ErrMissingRecords rather than silently replaying less.
// Records are checksummed again as they are read; damage found now is a
// *CorruptionError.
//
// It is meant for start-up, before appends begin, but is safe at any time.
func (l *Log) Replay(fromSeq uint64, fn func(seq uint64, typ byte, payload []byte) error) error {
	l.retireMu.RLock()
	defer l.retireMu.RUnlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	segs := slices.Clone(l.segs)
	last := l.writtenSeq
	l.mu.Unlock()

	first := segs[0].firstSeq
	if fromSeq == 0 {
		fromSeq = first
	}
	if fromSeq < first {
		return fmt.Errorf("%w: replay from seq %d asked, but the log starts at %d (older segments were removed)", ErrMissingRecords, fromSeq, first)
	}
	if fromSeq-1 > last {
		return fmt.Errorf("%w: replay from seq %d asked, but the log ends at %d", ErrMissingRecords, fromSeq, last)
	}
	// Start in the last segment whose first record is <= fromSeq.
	i := sort.Search(len(segs), func(i int) bool { return segs[i].firstSeq > fromSeq }) - 1
	for ; i < len(segs); i++ {
		if err := replaySegment(l.fs, segs[i], fromSeq, fn); err != nil {
			return err
		}
	}
	return nil
}

// replaySegment reads one segment up to seg.end; it modifies nothing.
func replaySegment(fsys FS, seg segmentMeta, fromSeq uint64, fn func(uint64, byte, []byte) error) error {
	f, err := fsys.OpenFile(seg.path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("wal: replay: open %s: %w", seg.path, err)
	}
	defer f.Close()
	// The window ends at seg.end: bytes after it were not written (or not
	// yet when Replay started).
	w := newFileWindow(f, seg.end)
	corrupt := func(off int64, format string, args ...any) error {
		return &CorruptionError{Segment: seg.path, Offset: off, Reason: "during replay: " + fmt.Sprintf(format, args...)}
	}
	hb, err := w.bytes(0, segmentHeaderSize)
	if err != nil {
		return fmt.Errorf("wal: replay %s: %w", seg.path, err)
	}
	if hs, reason := decodeSegmentHeader(hb); reason != "" {
		return corrupt(0, "%s", reason)
	} else if hs != seg.firstSeq {
		return corrupt(0, "segment header says first sequence number %d, want %d", hs, seg.firstSeq)
	}
	next := seg.firstSeq
	for off := int64(segmentHeaderSize); off < seg.end; {
		rec, n, bad, err := w.readRecord(off, MaxRecordSizeLimit)
		if err != nil {
			return fmt.Errorf("wal: replay %s: %w", seg.path, err)
		}
		if bad != nil {
			return corrupt(off, "%s", describeBad(bad, off, seg.end))
		}
		if rec.seq != next {
			return corrupt(off, "record has sequence number %d, want %d", rec.seq, next)
		}
		if rec.seq >= fromSeq {
			if err := fn(rec.seq, rec.typ, rec.payload); err != nil {
				return fmt.Errorf("wal: replay seq %d: %w", rec.seq, err)
			}
		}
		next = rec.seq + 1
		off += int64(n)
	}
	return nil
}
