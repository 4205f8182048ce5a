package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// readFullAt fills b from r at off. An io.EOF that comes with a full buffer
// (allowed by the io.ReaderAt contract) is not an error.
func readFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// fileWindow reads a file through a sliding buffer so that decoding small
// records costs one read per window rather than one per record.
type fileWindow struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	off  int64 // file offset of buf[0]
}

const windowSize = 256 << 10

func newFileWindow(r io.ReaderAt, size int64) *fileWindow {
	return &fileWindow{r: r, size: size}
}

// bytes returns the file's bytes [off, off+n), clipped to the file size. The
// slice aliases the window and is valid until the next call. It allocates
// at most max(n, windowSize) bytes, and n is bounded by the caller to the
// file size or the record size limit.
func (w *fileWindow) bytes(off int64, n int) ([]byte, error) {
	if off >= w.size || n <= 0 {
		return nil, nil
	}
	if rest := w.size - off; int64(n) > rest {
		n = int(rest)
	}
	if off >= w.off && off+int64(n) <= w.off+int64(len(w.buf)) {
		start := int(off - w.off)
		return w.buf[start : start+n], nil
	}
	want := max(n, windowSize)
	if rest := w.size - off; int64(want) > rest {
		want = int(rest)
	}
	if cap(w.buf) < want {
		w.buf = make([]byte, want)
	}
	w.buf = w.buf[:want]
	if err := readFullAt(w.r, w.buf, off); err != nil {
		w.buf = w.buf[:0]
		return nil, fmt.Errorf("read at offset %d: %w", off, err)
	}
	w.off = off
	return w.buf[:n], nil
}

// readRecord decodes the record at off. bad is a problem with the bytes (one
// of the decodeRecord errors); err is an I/O error reading them.
func (w *fileWindow) readRecord(off int64, maxPayload int) (rec record, n int, bad, err error) {
	b, err := w.bytes(off, recordHeaderSize)
	if err != nil {
		return record{}, 0, nil, err
	}
	rec, need, bad := decodeRecord(b, maxPayload)
	if bad == errShortFrame && need > len(b) && int64(need) <= w.size-off {
		if b, err = w.bytes(off, need); err != nil {
			return record{}, 0, nil, err
		}
		rec, need, bad = decodeRecord(b, maxPayload)
	}
	return rec, need, bad, nil
}

// lastNonZero returns the offset just past the last non-zero byte in
// [from, size), or from if that range is all zeros (preallocated space).
func (w *fileWindow) lastNonZero(from int64) (int64, error) {
	last := from
	for off := from; off < w.size; {
		b, err := w.bytes(off, windowSize)
		if err != nil {
			return 0, err
		}
		if i := lastNonZeroIndex(b); i >= 0 {
			last = off + int64(i) + 1
		}
		off += int64(len(b))
	}
	return last, nil
}

func lastNonZeroIndex(b []byte) int {
	i := len(b)
	for i >= 8 && binary.LittleEndian.Uint64(b[i-8:i]) == 0 {
		i -= 8
	}
	for i > 0 && b[i-1] == 0 {
		i--
	}
	return i - 1
}

// unwrittenSectorIn reports whether the damaged region [from, to) (from a
// bad record to the next valid one) shows the footprint of sectors that an
// unfinished write never got onto the disk. Segments are zero-filled before
// use, so an unwritten sector reads as zeros from where the data ended
// before that write up to the sector's end. Either
//
//   - a whole 512-byte-aligned sector inside [from, to) is zero (the write
//     spanned it), or
//   - the bad record starts with a zero length field and zeros run from it
//     to the next sector boundary (the unwritten rest of a sector whose
//     beginning already held older records).
//
// Bit rot does not look like this; a record that legitimately holds long
// runs of zeros and then gets damaged can (see docs/wal.md).
func (w *fileWindow) unwrittenSectorIn(from, to int64, bad error) (bool, error) {
	for s := (from + sectorSize - 1) / sectorSize * sectorSize; s+sectorSize <= to; s += sectorSize {
		b, err := w.bytes(s, sectorSize)
		if err != nil {
			return false, err
		}
		if len(b) == sectorSize && lastNonZeroIndex(b) < 0 {
			return true, nil
		}
	}
	if bad != errZeroLength {
		return false, nil
	}
	boundary := (from/sectorSize + 1) * sectorSize
	if boundary > to {
		return false, nil
	}
	b, err := w.bytes(from, int(boundary-from))
	if err != nil {
		return false, err
	}
	return lastNonZeroIndex(b) < 0, nil
}

// findValid looks for the first offset in [from, limit) where a whole,
// checksummed record with a plausible sequence number starts: at least next
// (records after a damaged one are newer) and at most next plus the number
// of records that could fit in between. The cheap sequence test runs first
// so that scanning garbage costs about one comparison per byte. limit is the
// end of the non-zero data: a record's header is never all zeros.
func (w *fileWindow) findValid(from, limit int64, next uint64, maxPayload int) (int64, record, bool, error) {
	hi := next + uint64((w.size-from)/recordHeaderSize) + 1
	if hi < next {
		hi = ^uint64(0)
	}
	for q := from; q < limit && q+recordHeaderSize <= w.size; q++ {
		b, err := w.bytes(q, recordHeaderSize)
		if err != nil {
			return 0, record{}, false, err
		}
		seq := binary.LittleEndian.Uint64(b[8:16])
		if seq < next || seq > hi {
			continue
		}
		rec, _, bad, err := w.readRecord(q, maxPayload)
		if err != nil {
			return 0, record{}, false, err
		}
		if bad == nil {
			return q, rec, true, nil
		}
	}
	return 0, record{}, false, nil
}

// ProblemKind says whether a problem is the expected result of a crash or
// damage that needs a decision.
type ProblemKind int

const (
	// TornTail: the last segment ends in a write that did not complete.
	// Open truncates it (keeping the bytes in a .broken file) by itself.
	TornTail ProblemKind = iota + 1
	// Corruption: bytes that a crash cannot explain. Open refuses the log;
	// Repair moves the damage aside.
	Corruption
)

func (k ProblemKind) String() string {
	switch k {
	case TornTail:
		return "torn-tail"
	case Corruption:
		return "corruption"
	}
	return fmt.Sprintf("ProblemKind(%d)", int(k))
}

// Problem is one finding of a scan.
type Problem struct {
	Kind    ProblemKind
	Segment string // path of the segment file
	Offset  int64  // for a torn tail: where the log will be cut
	Reason  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s at offset %d: %s", p.Kind, p.Segment, p.Offset, p.Reason)
}

func (p Problem) corruptionError() *CorruptionError {
	return &CorruptionError{Segment: p.Segment, Offset: p.Offset, Reason: p.Reason}
}

// segScan is the result of scanning one segment.
type segScan struct {
	path     string
	size     int64
	headerOK bool
	firstSeq uint64 // from the file name (== header when headerOK)
	records  int    // records in whole batches before the first problem
	lastSeq  uint64 // seq of the last of them; firstSeq-1 if none
	end      int64  // offset just past them: where appends continue
	problems []Problem
	// tornEnd is, when problems[0] is a TornTail, the end of the non-zero
	// bytes after the cut: [problems[0].Offset, tornEnd) is the evidence.
	tornEnd int64
}

// scanOptions says how a segment is judged.
type scanOptions struct {
	isLast bool // torn tails are only possible in the last segment
	// all keeps scanning after corruption (resynchronising on the next
	// valid record) to report every problem; otherwise stop at the first.
	all bool
}

// scanSegment checks a whole segment: header, every frame, sequence
// continuity inside it, batch completeness, and that only zeros follow the
// last record. It never modifies anything. The returned error is an I/O
// error; findings are in segScan.problems.
func scanSegment(r io.ReaderAt, size int64, path string, nameSeq uint64, o scanOptions) (segScan, error) {
	s := segScan{path: path, size: size, firstSeq: nameSeq, lastSeq: nameSeq - 1, end: segmentHeaderSize}
	w := newFileWindow(r, size)
	hb, err := w.bytes(0, segmentHeaderSize)
	if err != nil {
		return s, fmt.Errorf("wal: scan %s: %w", path, err)
	}
	corrupt := func(off int64, format string, args ...any) {
		s.problems = append(s.problems, Problem{Kind: Corruption, Segment: path, Offset: off, Reason: fmt.Sprintf(format, args...)})
	}
	headerSeq, reason := decodeSegmentHeader(hb)
	switch {
	case reason != "":
		corrupt(0, "%s", reason)
		s.end = 0
		return s, nil
	case headerSeq != nameSeq:
		corrupt(0, "segment header says first sequence number %d, file name says %d", headerSeq, nameSeq)
		s.end = 0
		return s, nil
	}
	s.headerOK = true

	const maxPayload = MaxRecordSizeLimit
	var (
		off        = int64(segmentHeaderSize)
		next       = nameSeq // seq the next record must carry
		batchStart = off     // where the batch being read began
		batchLen   = 0       // records read of that batch
		inBatch    = false
	)
	for {
		var (
			rec record
			n   int
			bad error
		)
		if off < size {
			if rec, n, bad, err = w.readRecord(off, maxPayload); err != nil {
				return s, fmt.Errorf("wal: scan %s: %w", path, err)
			}
		} else {
			bad = errShortFrame
		}
		if bad == nil && rec.seq != next {
			// A checksummed record with the wrong number cannot come from a
			// crash: appends are numbered before they are written.
			corrupt(off, "record has sequence number %d, want %d", rec.seq, next)
			if !o.all {
				return s, nil
			}
			inBatch = false // the batch being read is broken; count afresh
		}
		if bad == nil {
			off += int64(n)
			next = rec.seq + 1
			if rec.flags&flagBatchContinues != 0 {
				if !inBatch {
					batchStart, batchLen, inBatch = off-int64(n), 0, true
				}
				batchLen++
				continue
			}
			s.records += batchLen + 1
			s.lastSeq, s.end = rec.seq, off
			batchLen, inBatch = 0, false
			continue
		}

		// The frame at off is not a valid record (or off is the end of the
		// file). Decide between a clean end, a torn tail and corruption.
		cut := off
		if inBatch {
			cut = batchStart
		}
		dataEnd, err := w.lastNonZero(off)
		if err != nil {
			return s, fmt.Errorf("wal: scan %s: %w", path, err)
		}
		if dataEnd == off { // only zeros (preallocated space) follow
			if !inBatch {
				return s, nil // clean end
			}
			if o.isLast {
				s.problems = append(s.problems, Problem{Kind: TornTail, Segment: path, Offset: cut,
					Reason: fmt.Sprintf("batch starting at offset %d (seq %d) is incomplete: its last record is missing", batchStart, next-uint64(batchLen))})
				s.tornEnd = off
				return s, nil
			}
			corrupt(batchStart, "segment ends inside a batch (seq %d..%d written, its last record missing) but is not the last segment", next-uint64(batchLen), next-1)
			return s, nil
		}
		what := describeBad(bad, off, size)
		if !o.isLast {
			corrupt(off, "%s (not the last segment, so not a torn write)", what)
		} else {
			p, prec, found, err := w.findValid(off+1, dataEnd, next, maxPayload)
			if err != nil {
				return s, fmt.Errorf("wal: scan %s: %w", path, err)
			}
			torn := !found
			if found {
				if torn, err = w.unwrittenSectorIn(off, p, bad); err != nil {
					return s, fmt.Errorf("wal: scan %s: %w", path, err)
				}
			}
			if torn {
				reason := what + ", nothing valid after it"
				if found {
					reason = fmt.Sprintf("%s; zeroed sectors follow it (an unfinished write whose later pages reached the disk before its earlier ones), so valid records from seq %d at offset %d are discarded with it", what, prec.seq, p)
				}
				if cut != off {
					reason += fmt.Sprintf("; the batch it belongs to starts at offset %d", cut)
				}
				s.problems = append(s.problems, Problem{Kind: TornTail, Segment: path, Offset: cut, Reason: reason})
				s.tornEnd = dataEnd
				return s, nil
			}
			corrupt(off, "%s, followed by a valid record (seq %d) at offset %d", what, prec.seq, p)
		}
		if !o.all {
			return s, nil
		}
		// Resynchronise on the next valid record to report what follows.
		p, prec, found, err := w.findValid(off+1, dataEnd, next, maxPayload)
		if err != nil {
			return s, fmt.Errorf("wal: scan %s: %w", path, err)
		}
		if !found {
			return s, nil
		}
		if prec.seq != next {
			s.problems[len(s.problems)-1].Reason += fmt.Sprintf("; records %d..%d are unreadable", next, prec.seq-1)
		}
		off, next, batchLen, inBatch = p, prec.seq, 0, false
	}
}

// describeBad words a decode failure at off.
func describeBad(bad error, off, size int64) string {
	switch bad {
	case errShortFrame:
		return fmt.Sprintf("record at offset %d is cut short by the end of the file (size %d)", off, size)
	case errZeroLength:
		return fmt.Sprintf("record at offset %d has a zero length field but non-zero bytes follow", off)
	default:
		return fmt.Sprintf("record at offset %d: %v", off, bad)
	}
}
