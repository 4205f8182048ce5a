// Package engine is the AkiDB database: collections of vectors with string
// ids and JSON metadata, indexed by an HNSW graph (engine/hnsw) over SIMD
// distance kernels (engine/distance) and filtered by engine/filter.
//
// A Collection's write path is one function per operation kind
// (prepare -> sequence -> apply) so that a write-ahead log can sit between
// the sequencing and the apply step: a write is made durable under a
// sequence number, then applied. Graph insertion runs in parallel across
// writers, but the step that makes records visible (publish) runs strictly
// in sequence order, so the visible state after any set of writes equals
// the state after applying them one by one in log order. That is what makes
// replay deterministic and idempotent by sequence number.
//
// Reads never wait for writers, nor writers for reads: published records
// are kept in a lock-free slot table (slots.go) that searches read without
// the collection's lock, and a search checks its context every few hundred
// distance computations and stops there (search.go). A vacuum, which
// renumbers nodes, makes searches that overlap it start again.
//
// A full disk refuses the write at hand (ErrNoSpace) and leaves the
// collection writable; the log is fail-stop for every other I/O error
// (engine/wal). Creates and drops claim only their collection's name, never
// the database, across their I/O (ddl.go).
//
// A durable upsert (Handle.Upsert) only reserves its vectors in the graph's
// arena before it is acknowledged; linking them into the graph runs in the
// background (stage.go). Searches scan the staged vectors exactly until
// they are linked, checkpoints and vacuum wait for the backlog to drain,
// and writers wait for room when it is full. Replay links synchronously.
//
// An int8 collection with its originals on disk keeps its graph's layer-0
// lists and codes in file-backed shared memory (engine/mapped, wired in
// mappedmem.go): page cache that the kernel can drop and re-read, with
// scratch files under the collection's mapped/ directory.
//
// The engine imports no transport or CLI packages.
package engine
