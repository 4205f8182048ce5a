// Package snapshot writes and reads checkpoint files: a collection's full
// state at one log sequence number, framed in checksummed chunks. What the
// payload means is the engine's business (engine/state.go); this package
// guarantees that a snapshot is either complete and intact or refused.
//
// A snapshot file is snapshots/NNNNNNNNNNNNNNNNNNNN.snap, the 20-digit
// zero-padded sequence number it covers. Layout (little-endian):
//
//	header (32 bytes):
//	  magic    [8]byte  "AKIDBSNP"
//	  version  u32      1
//	  flags    u32      0
//	  seq      u64      last log sequence number included
//	  reserved u32      0
//	  crc      u32      CRC32-C of the previous 28 bytes
//	chunks, each:
//	  length   u32      1..MaxChunk bytes of payload
//	  crc      u32      CRC32-C of the payload
//	  payload  [length]byte
//	trailer (16 bytes):
//	  zero     u32      0 (a chunk length of 0 ends the chunks)
//	  crc      u32      CRC32-C of the next 8 bytes
//	  total    u64      payload bytes in all chunks
//	end of file (any byte after the trailer is corruption)
//
// Writing is crash-safe: the file is written as .NNN.snap.tmp, fsynced,
// renamed into place and the directory fsynced, so a reader sees either
// the whole snapshot or none. A snapshot that fails any check (magic,
// version, header or chunk CRC, missing trailer, wrong total, trailing
// bytes) is refused with a *CorruptError naming the file and offset; the
// engine then falls back to an older snapshot plus a longer log.
//
// All file access goes through wal.FS so the same fault injection applies.
package snapshot
