package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A chunk is a run of consecutive records in the segment format (doc.go):
// the 32-byte segment header naming the first sequence number, then the
// records back to back, ending at the end of the stream (no zero padding).
// The object storage tier ships the log as chunks read from a Log by
// sequence range, and a restore reads them back; a chunk is also a valid
// segment file as it stands.

// ErrBadChunk: a chunk that does not decode (checksum, framing, order).
var ErrBadChunk = errors.New("wal: invalid log chunk")

// ChunkWriter writes a chunk to w.
type ChunkWriter struct {
	w    io.Writer
	next uint64
	n    int64
	buf  []byte
}

// NewChunkWriter writes the header of a chunk whose first record is
// firstSeq.
func NewChunkWriter(w io.Writer, firstSeq uint64) (*ChunkWriter, error) {
	if firstSeq == 0 {
		return nil, fmt.Errorf("%w: first sequence number 0", ErrBadChunk)
	}
	cw := &ChunkWriter{w: w, next: firstSeq}
	if err := cw.write(encodeSegmentHeader(firstSeq)); err != nil {
		return nil, err
	}
	return cw, nil
}

func (cw *ChunkWriter) write(b []byte) error {
	n, err := cw.w.Write(b)
	cw.n += int64(n)
	if err != nil {
		return fmt.Errorf("wal: write chunk: %w", err)
	}
	return nil
}

// Append adds the record seq, which must be the one after the last.
func (cw *ChunkWriter) Append(seq uint64, typ byte, payload []byte) error {
	if seq != cw.next {
		return fmt.Errorf("%w: record %d appended where %d is next", ErrBadChunk, seq, cw.next)
	}
	if len(payload) > MaxRecordSizeLimit {
		return fmt.Errorf("%w: record %d is %d bytes", ErrTooLarge, seq, len(payload))
	}
	cw.buf = appendRecord(cw.buf[:0], seq, 0, typ, payload)
	if err := cw.write(cw.buf); err != nil {
		return err
	}
	cw.next++
	return nil
}

// Size is the number of bytes written so far.
func (cw *ChunkWriter) Size() int64 { return cw.n }

// LastSeq is the last record appended (first-1 if none).
func (cw *ChunkWriter) LastSeq() uint64 { return cw.next - 1 }

// ReadChunk decodes a chunk from r, calling fn for every record in order
// (payload is only valid during the call), and returns the first and last
// sequence numbers. Every record's checksum and sequence number are
// checked; a damaged or truncated chunk is ErrBadChunk.
func ReadChunk(r io.Reader, fn func(seq uint64, typ byte, payload []byte) error) (first, last uint64, err error) {
	hdr := make([]byte, segmentHeaderSize)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, 0, fmt.Errorf("%w: header: %v", ErrBadChunk, err)
	}
	first, reason := decodeSegmentHeader(hdr)
	if reason != "" {
		return 0, 0, fmt.Errorf("%w: header: %s", ErrBadChunk, reason)
	}
	next := first
	buf := make([]byte, recordHeaderSize, 64<<10)
	for {
		if _, err := io.ReadFull(r, buf[:recordHeaderSize]); err != nil {
			if errors.Is(err, io.EOF) {
				return first, next - 1, nil
			}
			return 0, 0, fmt.Errorf("%w: record %d: %v", ErrBadChunk, next, err)
		}
		length := binary.LittleEndian.Uint32(buf[0:4])
		if length < minRecordLength || uint64(length) > uint64(MaxRecordSizeLimit)+minRecordLength {
			return 0, 0, fmt.Errorf("%w: record %d: length field %d", ErrBadChunk, next, length)
		}
		total := lengthFieldSize + int(length)
		if cap(buf) < total {
			buf = append(buf[:recordHeaderSize], make([]byte, total-recordHeaderSize)...)
		}
		buf = buf[:total]
		if _, err := io.ReadFull(r, buf[recordHeaderSize:]); err != nil {
			return 0, 0, fmt.Errorf("%w: record %d: %v", ErrBadChunk, next, err)
		}
		rec, _, derr := decodeRecord(buf, MaxRecordSizeLimit)
		if derr != nil {
			return 0, 0, fmt.Errorf("%w: record %d: %v", ErrBadChunk, next, derr)
		}
		if rec.seq != next {
			return 0, 0, fmt.Errorf("%w: record has sequence number %d, want %d", ErrBadChunk, rec.seq, next)
		}
		if err := fn(rec.seq, rec.typ, rec.payload); err != nil {
			return 0, 0, err
		}
		next++
		buf = buf[:recordHeaderSize]
	}
}
