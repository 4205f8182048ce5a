// Package tier is AkiDB's object storage tier: it ships collections with
// the memory-s3 policy to MinIO/S3 so that a dead disk loses at most the
// recovery point, and `akidb restore` can rebuild a collection anywhere.
// docs/tiering.md is the user's version of this.
//
// # What it owns
//
//   - ObjectStore, the interface to object storage (put with a SHA-256,
//     get, head, list, delete, multipart, abort of unfinished uploads),
//     with MemStore (unit tests) and FaultStore (fails, slows or cuts
//     calls on command). engine/tier/s3 is the MinIO/S3 one; the
//     conformance suite in tiertest runs against all three.
//   - Breaker, the circuit breaker in front of the store.
//   - The shipper (Tier, ship.go): per collection, the newest snapshot and
//     the durable log, the manifest, the retention.
//   - The dead-letter queue's retry worker (DLQ, dlq.go); the queue is the
//     catalog's tier_dlq table (engine/meta).
//   - The reading side for restores (restore.go): manifests, verified
//     downloads, restore plans.
//
// The engine implements Source over a collection, registers memory-s3
// collections, and asks KeepLogFrom and HoldsSnapshot before it deletes a
// log segment or a snapshot. Nothing here runs inside a write or a
// checkpoint's pause: the engine only kicks the ship loop.
//
// # Shipping
//
// A pass over a collection (every ShipInterval, soon after a checkpoint,
// or ShipOnce) does, in order:
//
//  1. stage the newest local snapshot if the store lacks it, with the
//     Parquet export the engine wrote at that checkpoint into the staging
//     directory (ParquetFileName), if any: a Parquet file is one more
//     object kind, shipped and retained like the snapshot it belongs to
//     (a snapshot waiting in the DLQ is superseded by a newer one: the
//     newer one and the log after it restore everything the older would);
//  2. stage the durable log after what is shipped, read from the local
//     log by sequence range into chunk files (the segment format, at most
//     ChunkBytes each). The recovery point is therefore the ship interval
//     whatever the segment size, instead of one 64 MiB segment: sealed
//     segments would leave a quiet collection's last writes unshipped for
//     hours. Only fsynced records are read (Source.SyncedSeq), so the store
//     never holds a write a local power cut could undo. While a log chunk
//     waits in the DLQ no new one is cut: the records stay in the local log
//     (which keeps everything not shipped) and go out together later,
//     instead of piling up as copies on a small disk;
//  3. upload what is staged, each object confirmed by HEAD (size, and the
//     SHA-256 recorded when it was staged, stored as object metadata; the
//     bytes sent are checked against it as they stream, and a multipart
//     ETag is not an MD5). A failure queues the object in the DLQ. Every
//     staged file is fsynced, and its directory, before its upload starts
//     (and so before a DLQ entry can name it), and every upload, a pass's
//     or a retry's, first checks the file against its recorded size and
//     SHA-256: a missing or damaged one is never shipped, but resolved from
//     its source (staged.go: a log chunk is cut again from the local log, a
//     Parquet export dropped, a superseded snapshot dropped, any other
//     snapshot made permanent at once with an error naming the file). The
//     tier's files go through the engine's filesystem (Config.FS);
//  4. write the manifest, last, listing the confirmed objects that fit (a
//     log chunk must continue the log the manifest reaches). The manifest
//     is the only object a reader trusts; it replaces the previous one in
//     one PUT, so a reader never sees a half-shipped state;
//  5. retention: keep KeepSnapshots snapshots with the log after the
//     oldest; the manifest without the rest is written first, then they
//     are deleted (a failed delete goes to the DLQ).
//
// A local snapshot or log segment is deleted only once the manifest in the
// store covers it (KeepLogFrom is the manifest's ShippedSeq + 1;
// HoldsSnapshot holds every queued snapshot). A file a DLQ entry refers to
// is not deleted while the entry exists.
//
// After a crash the first pass of each collection reads the store's
// manifest (the local copy in <collection>/tier/manifest.json may be one
// generation behind), aborts the collection's unfinished multipart uploads
// and deletes the objects that neither the manifest nor the DLQ refers to;
// Register removes staged files no DLQ entry refers to (their records are
// still in the log).
//
// # Circuit breaker: hand-written, not sony/gobreaker
//
// The spec: a sliding window (1 minute, at least 10 calls, 50% failures)
// or 5 consecutive failures open it; a cool-down (30s) that doubles while
// probes fail, up to 5 minutes; one half-open probe; an injected clock so
// tests drive it without sleeping. gobreaker v2.4.0 has a fixed
// cool-down (Timeout), no clock to inject (it calls time.Now), and its
// rolling window arrives as bucketed counts only in the closed state's
// ReadyToTrip; expressing the doubling cool-down and a testable clock
// around it would have meant wrapping it in as much code as writing it.
// Breaker is about 300 lines with its tests beside it.
//
// What counts as a failure: an error other than a missing object, a
// checksum mismatch of our own bytes, or a caller's cancellation.
//
// # Dead-letter queue
//
// A failed upload or delete is a row in tier_dlq (pending). The worker
// (every DLQRetryInterval, or RunOnce) takes the oldest due pending rows
// (DLQBatch), retries each, removes it on success, and otherwise counts
// the retry and puts the next attempt off by DLQRetryInterval doubled per
// retry (capped at an hour, "equal jitter"), turning it permanent at
// DLQMaxRetries. A failure while the breaker is open, or one that leaves
// it open (it tripped it, or it was the half-open probe), is not counted:
// the store is down, the entry is not bad, and an outage must not turn
// every entry permanent. A ship pass also retries its collection's due log
// chunk itself, so after an outage the recovery point is back to the ship
// interval without waiting for the worker.
package tier
