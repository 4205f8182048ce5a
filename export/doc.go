// Package export writes a collection's records in formats other tools
// read. It owns the Parquet layout of an AkiDB export (WriteParquet): one
// row per live record with the columns
//
//	id        string (UTF8), required
//	vector    list<float32>, required; exactly the collection's dimension
//	          values, as stored: a cosine collection stores (and so
//	          exports) its vectors normalised to unit length
//	metadata  string with the JSON logical type, required: the record's
//	          metadata as a compact JSON object, "{}" when it has none
//
// and the file's key-value metadata (keys prefixed "akidb."): the format
// version, the tenant, the collection's name, dimension and metric,
// whether its vectors are normalised, the number of records and the
// sequence number the records are at (KeySeq; the tier's manifest and
// snapshot carry the same number). docs/export.md shows how to read it.
//
// The package reads records from a Source, in practice an
// *engine.RecordView: a consistent view of one collection at one sequence
// number that it iterates without holding the collection's locks. It
// streams: memory is bounded by one row group (Options.RowGroupBytes of
// raw record bytes, encoded and compressed) and a batch of records, not by
// the size of the collection.
//
// It lives beside engine/, not in it: parquet-go registers every Parquet
// codec, and the Brotli one (github.com/andybalholm/brotli) imports
// net/http, which nothing under engine/ may (engine/imports_test.go).
// cmd (akidb export) and serve (the tier's Parquet per checkpoint, passed
// to the engine as a function) wire it in.
package export
