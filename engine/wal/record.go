package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Sizes and constants of the on-disk format; doc.go describes the layout.
const (
	segmentMagic      = "AKIDBWAL"
	segmentVersion    = 1
	segmentHeaderSize = 32

	recordHeaderSize = 18 // length(4) crc(4) seq(8) flags(1) type(1)
	lengthFieldSize  = 8  // length + crc: the bytes the length field does not count
	minRecordLength  = 10 // seq + flags + type: the smallest valid length field

	// flagBatchContinues marks every record of an AppendBatch but the last,
	// so that recovery can drop a batch whose end never reached the disk.
	flagBatchContinues byte = 1 << 0
	knownFlags              = flagBatchContinues

	// sectorSize is the unit a disk writes atomically (or not at all). A
	// whole zeroed sector inside a damaged region is the mark of a write
	// that never reached the disk, as opposed to bytes that changed.
	sectorSize = 512
)

// castagnoli is the CRC32-C table; computed once, never written after.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one entry of an AppendBatch.
type Record struct {
	Type    byte
	Payload []byte
}

// record is a decoded frame. payload aliases the buffer it was decoded from.
type record struct {
	seq     uint64
	flags   byte
	typ     byte
	payload []byte
}

// frameSize is the number of bytes a record with this payload occupies.
func frameSize(payloadLen int) int { return recordHeaderSize + payloadLen }

// appendRecord appends the framed record to dst.
func appendRecord(dst []byte, seq uint64, flags, typ byte, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recordHeaderSize)...)
	dst = append(dst, payload...)
	frameRecord(dst[start:], seq, flags, typ)
	return dst
}

// frameRecord fills in the header of frame, a record's payload after
// recordHeaderSize bytes of room.
func frameRecord(frame []byte, seq uint64, flags, typ byte) {
	binary.LittleEndian.PutUint32(frame[0:4], uint32(minRecordLength+len(frame)-recordHeaderSize))
	binary.LittleEndian.PutUint64(frame[8:16], seq)
	frame[16] = flags
	frame[17] = typ
	binary.LittleEndian.PutUint32(frame[4:8], frameCRC(frame))
}

// frameCRC is the CRC32-C of the length field followed by everything after
// the CRC field. Covering the length means a flipped length is caught by the
// checksum instead of silently re-framing the rest of the segment.
func frameCRC(frame []byte) uint32 {
	crc := crc32.Update(0, castagnoli, frame[0:4])
	return crc32.Update(crc, castagnoli, frame[lengthFieldSize:])
}

// Reasons a frame does not decode. They are values, never wrapped, so that
// the scanner can tell "ran out of bytes" from "bytes are wrong".
var (
	errShortFrame = errors.New("record extends past the end of the data")
	errZeroLength = errors.New("zero length field")
	errBadLength  = errors.New("invalid length field")
	errBadCRC     = errors.New("crc mismatch")
	errBadFlags   = errors.New("unknown flag bits")
)

// decodeRecord decodes the frame at the start of b. It never allocates and
// never reads past b: the returned payload aliases b. maxPayload bounds the
// length field, so a corrupt length cannot make a caller read or allocate
// more than that.
//
// need is the full frame size whenever the length field was readable and
// valid (also with errShortFrame, so the caller can fetch more bytes);
// otherwise it is 0.
func decodeRecord(b []byte, maxPayload int) (rec record, need int, err error) {
	if len(b) < 4 {
		return record{}, 0, errShortFrame
	}
	length := binary.LittleEndian.Uint32(b[0:4])
	if length == 0 {
		return record{}, 0, errZeroLength
	}
	if length < minRecordLength || uint64(length) > uint64(maxPayload)+minRecordLength {
		return record{}, 0, errBadLength
	}
	need = lengthFieldSize + int(length)
	if len(b) < need {
		return record{}, need, errShortFrame
	}
	frame := b[:need]
	if binary.LittleEndian.Uint32(frame[4:8]) != frameCRC(frame) {
		return record{}, need, errBadCRC
	}
	rec = record{
		seq:     binary.LittleEndian.Uint64(frame[8:16]),
		flags:   frame[16],
		typ:     frame[17],
		payload: frame[recordHeaderSize:],
	}
	if rec.flags&^knownFlags != 0 {
		return record{}, need, errBadFlags
	}
	return rec, need, nil
}

// encodeSegmentHeader returns the 32-byte header of a segment whose first
// record will have sequence number firstSeq.
func encodeSegmentHeader(firstSeq uint64) []byte {
	b := make([]byte, segmentHeaderSize)
	copy(b[0:8], segmentMagic)
	binary.LittleEndian.PutUint32(b[8:12], segmentVersion)
	binary.LittleEndian.PutUint64(b[16:24], firstSeq)
	binary.LittleEndian.PutUint32(b[28:32], crc32.Checksum(b[0:28], castagnoli))
	return b
}

// decodeSegmentHeader checks a segment header and returns its first sequence
// number, or a reason it is not a valid header.
func decodeSegmentHeader(b []byte) (firstSeq uint64, reason string) {
	if len(b) < segmentHeaderSize {
		return 0, fmt.Sprintf("segment header is %d bytes, want %d", len(b), segmentHeaderSize)
	}
	b = b[:segmentHeaderSize]
	if string(b[0:8]) != segmentMagic {
		return 0, fmt.Sprintf("bad segment magic %q", b[0:8])
	}
	if got, want := binary.LittleEndian.Uint32(b[28:32]), crc32.Checksum(b[0:28], castagnoli); got != want {
		return 0, fmt.Sprintf("segment header crc mismatch (stored %#08x, computed %#08x)", got, want)
	}
	if v := binary.LittleEndian.Uint32(b[8:12]); v != segmentVersion {
		return 0, fmt.Sprintf("unsupported segment format version %d (this build reads %d)", v, segmentVersion)
	}
	return binary.LittleEndian.Uint64(b[16:24]), ""
}
