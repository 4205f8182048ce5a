// Package wal owns AkiDB's write-ahead log: a directory of growing
// segment files holding length-prefixed, CRC32-C checksummed, sequence
// numbered records; group commit; recovery of torn tails; verification and
// repair. It moves bytes only: a record is a type byte and a payload, and a
// codec elsewhere gives them meaning. It imports nothing of AkiDB and does
// all file access through the FS interface: OSFS; in tests FaultFS, which
// fails chosen calls or cuts the power at one, over MemFS, an in-memory
// filesystem that knows what an fsync has made durable and so what a power
// cut keeps (see MemFS for the model).
//
// docs/wal.md is the user-facing version of this; the two must agree.
//
// # Directory
//
//	<dir>/NNNNNNNNNNNNNNNN.wal         a segment; NNNN is the sequence number of
//	                                   its first record (its first record-to-be,
//	                                   if empty) in 16 lowercase hex digits
//	<dir>/NNNNNNNNNNNNNNNN.wal.tmp     a segment being created; Open deletes it
//	<dir>/NNNNNNNNNNNNNNNN.wal.broken  bytes cut off a torn tail (.broken.1, ...)
//	<dir>/NNNNNNNNNNNNNNNN.wal.corrupt a segment (or a copy of one) moved aside
//	                                   by Repair (.corrupt.1, ...)
//
// # Segment layout (all integers little endian)
//
//	offset size field
//	0      8    magic "AKIDBWAL"
//	8      4    format version, uint32 = 1
//	12     4    reserved, 0
//	16     8    first sequence number, uint64; equals the file name
//	24     4    reserved, 0
//	28     4    CRC32-C (Castagnoli) of bytes [0, 28)
//	32     ...  records, back to back, then zero bytes to the end of the file
//
// # Record layout
//
//	offset size field
//	0      4    length, uint32: the number of bytes after the crc field,
//	            = 10 + len(payload); at least 10, so 0 is never a record
//	4      4    crc, uint32: CRC32-C of bytes [0, 4) followed by bytes
//	            [8, 8+length) — everything but the crc itself
//	8      8    seq, uint64
//	16     1    flags: bit 0 "batch continues" (set on every record of an
//	            AppendBatch but the last); other bits must be 0
//	17     1    type, the caller's
//	18     n    payload, n = length - 10, at most MaxRecordSizeLimit (1 GiB)
//
// # Invariants
//
//   - Sequence numbers are assigned by the log and strictly consecutive: the
//     first record of a segment has the number in the segment's name and
//     header, each next record has the previous number + 1, and each
//     segment's name is the previous segment's last number + 1.
//   - Every byte after the last record of a segment is zero: space is
//     allocated (fallocate, or an extending truncate), zero-filled and
//     fsynced before records go into it (see zeroFill), and never reused.
//     A segment starts at InitialSegmentSize (a rolled-to one at the size
//     its predecessor reached) and doubles as it fills, up to SegmentSize. A zero length field therefore marks the end of the data.
//   - A segment name never exists without a whole, durable header: segments
//     are created as .tmp, header written, preallocated, fsynced, renamed,
//     and the directory fsynced.
//   - Only the last segment can end in a torn write: before the log rolls to
//     a new segment it fsyncs the old one, under every sync policy.
//   - A batch (AppendBatch) never spans segments, and its records carry the
//     "batch continues" flag but the last, so recovery can tell a whole
//     batch from a partial one.
//   - The log is fail-stop: after one write or fsync error it writes nothing
//     more. The one exception is a full disk found while allocating (growing
//     or creating a segment, or a write(2) that wrote nothing): the records
//     waiting for that room are refused with ErrNoSpace, their sequence
//     numbers given back, and the log goes on (see commit).
//
// # Recovery (Open)
//
// Open scans every segment. In the last segment, the first frame that does
// not decode ends the log; it is a torn tail, cut off at the start of its
// batch and saved as .broken with a warning, when
//
//   - it runs past the end of the file (short header or payload), or
//   - it is zeroed, or has a bad length or checksum, and either nothing valid
//     follows it or the bytes between it and the next valid record show an
//     unwritten sector: a whole zeroed 512-byte-aligned sector, or a zero
//     length field with zeros up to the next sector boundary (an unfinished
//     write whose later pages reached the disk before its earlier ones), or
//   - the last batch lacks its final record.
//
// Only-zeros after the last record is the normal end, not a problem.
// Everything else is corruption and Open returns *CorruptionError without
// modifying anything: a damaged frame followed by valid records with no
// zeroed sector in between, any damaged frame or partial batch in a segment
// that is not the last, a bad segment header, or a sequence number out of
// order. Verify reports; Repair moves damage aside (see Repair).
//
// # Group commit
//
// Appenders frame their records into a shared buffer under a mutex and wait.
// One committer goroutine takes the whole buffer, writes it with one
// pwrite(2) per segment touched, and under SyncAlways fdatasyncs once before
// releasing every waiter of that group; appends arriving meanwhile form the
// next group. Under SyncInterval the same goroutine fdatasyncs on a ticker;
// under SyncNone only when a segment is finished, on Sync and on Close.
//
// Submit splits Append in two: it queues a record and returns its sequence
// number at once, and Pending.Wait blocks until the record is covered. Under
// SyncAlways with a CommitDelay and a Writers count, the committer holds a
// group for up to the delay until every writer not in the commit under way
// has joined it, so concurrent writers share fewer fsyncs; a lone writer's
// record goes at once.
//
// SubmitFrame takes a record the caller built in place, with room for the
// header in front of the payload. A large one (64 KiB or more) is not
// copied into the shared buffer: the committer writes it from the
// caller's frame with a pwrite(2) of its own, in sequence order among the
// others, so a batch of tens of megabytes is held once while it is logged.
package wal
