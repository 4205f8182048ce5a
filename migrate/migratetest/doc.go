// Package migratetest writes AkiDB 1.x data directories for tests of
// `akidb migrate v1-to-v2`: a standard multi-tenant fixture (tenants in
// every status, collections of every metric, repeated ids, deletes,
// unicode ids and metadata, names v2 renames), a single-tenant one, a
// large one for speed measurements, and corrupted variants of each kind of
// bad input. Every fixture knows the records v2 must end up with.
package migratetest
