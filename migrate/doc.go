// Package migrate brings an AkiDB 1.x data directory into AkiDB 2.x:
// `akidb migrate v1-to-v2`. It owns the reading of the 1.x format
// (tenants/*.json, collections/<name>/{manifest.json,vectors.jsonl}), the
// mapping of 1.x tenants, quotas and names onto 2.x, the load through the
// engine's public API, the progress checkpoint that makes a run resumable,
// and the verification and report at the end. docs/migration-v1-to-v2.md
// is the user's guide; this comment is the design.
//
// # Phases
//
//	plan     read every v1 file (read-only, never locked), check every line
//	         against v2's rules, decide tenant and collection names, map
//	         quotas, and work out which line of each id wins (the last; a
//	         {"deleted": true} line removes it). Nothing is written. With
//	         --on-invalid=fail any problem stops here; --dry-run always does.
//	target   refuse a non-empty --data-dir unless --resume finds this
//	         migration's state file there; create migrate-v1-state.json
//	         before anything else.
//	load     engine.Open the target; create tenants (engine/meta) and their
//	         quotas, then each collection (DB.CreateCollection) and its
//	         records with Handle.UpsertBulk, in batches, in v1 file order:
//	         one goroutine reads, GOMAXPROCS parse, and each batch is logged,
//	         fsynced and linked into the HNSW graph on every core before the
//	         next. After each acknowledged batch the state file records how
//	         many records of the collection are in (at most every 500 ms and
//	         at each collection's end; atomically: temp, fsync, rename,
//	         fsync dir).
//	verify   per collection: counts, an order-independent checksum, exact
//	         search equal to brute force over the v1 lines, HNSW recall@10
//	         >= 0.95 on the same sample; tenants and quotas; v1 files
//	         unchanged. The report is written (stdout and
//	         migrate-v1-report.json) and the state marked done.
//
// # Why resuming never duplicates or loses
//
// The plan is a pure function of the v1 files and the options, and the
// state file holds a fingerprint of both (each file's size and mtime), so
// a resumed run recomputes the same plan or refuses. Every id is written
// exactly once, with its final value, so a batch written twice (it was
// acknowledged after the last state save, then the process died) writes
// the same records again; the resumed run instead skips ids the
// collection already holds. The engine's log makes each acknowledged batch
// durable (fsync=always) and all or nothing.
//
// # Errors
//
// Problems in the data are Problems at FILE:LINE with a Kind and a Scope
// (what --on-invalid=skip leaves out: a record, a collection, a tenant or
// one field), never Go errors; Go errors are for what stops a run (I/O, a
// refused target, an interruption: ErrInterrupted).
package migrate
