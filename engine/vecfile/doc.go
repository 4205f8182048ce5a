// Package vecfile owns a quantized collection's vectors file: the float32
// originals of a collection whose settings say "originals": "disk", kept
// out of memory and read with pread (never mmap: pages mapped into the
// process would count towards its resident memory, which is what the
// setting saves) when the graph re-ranks candidates, scans exactly or
// returns a vector. *File implements hnsw.Originals.
//
// A file is collections/<uuid>/vectors/NNNNNNNNNNNNNNNNNNNN.vec, its
// 20-digit generation. Layout (little-endian):
//
//	header (64 bytes):
//	  magic    [8]byte "AKIDBVEC"
//	  version  u32     1
//	  dim      u32     1..16384
//	  gen      u64     the generation in the file name
//	  reserved [36]byte zero
//	  crc      u32     CRC32-C of the previous 60 bytes
//	rows: row i (node id i) at 64 + i*4*dim, dim float32
//
// # Durability
//
// The file has no checksums of its own rows and is not fsynced on the write
// path: the log holds every acknowledged vector. A checkpoint calls Commit,
// which extends a CRC32-C over the rows the snapshot covers (rows never
// change once written: a replaced record is a new node) and fsyncs, and the
// snapshot records the generation, that row count and that CRC. Open,
// given them, checks the header and the CRC and cuts the file back to that
// many rows; the log's replay then writes the rest again. A file that fails
// these checks is a *CorruptError naming the file and offset, and the
// engine falls back to the older snapshot (which, when it names the same
// generation, needs only a shorter prefix).
//
// A vacuum renumbers nodes: Compact writes their rows, in the new order,
// to a new generation, fsynced before it is used; the old generation stays
// for as long as a kept snapshot names it. Reads past the end of the file
// (rows of nodes reserved but not yet written) return zeros: the graph
// reads only published nodes, whose rows were written first.
//
// All file access goes through wal.FS, so fault injection and the
// power-cut filesystem apply.
package vecfile
