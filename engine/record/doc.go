// Package record is the codec that gives AkiDB's write-ahead log records
// their meaning. The log (engine/wal) moves opaque bytes with a type byte;
// this package encodes and decodes the logical operations stored in them.
//
// All integers are little-endian. Layouts, by record type:
//
//	TypeUpsert (1):
//	  u32 dim | u32 count | count x {
//	    u16 idLen | id bytes (UTF-8, 1..256)
//	    dim x f32 vector
//	    u32 metaLen | metaLen bytes of JSON object (0 = no metadata)
//	  }
//	TypeDelete (2):
//	  u32 count | count x { u16 idLen | id bytes }
//
// Invariants checked by the decoders: counts and lengths never exceed the
// bytes that remain (so a corrupt length cannot make a decoder allocate
// more than its input), ids are 1..MaxIDBytes bytes, metadata is at most
// MaxMetadataBytes, and no bytes are left over. The decoders never panic.
package record
