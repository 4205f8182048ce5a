// Package meta owns AkiDB's metadata store: one SQLite database,
// <data-dir>/akidb.db, opened through mattn/go-sqlite3. Today it holds the
// catalog (tenants and their collections); API keys, quotas, the audit log,
// the DLQ and runtime configuration join it as further migrations.
//
// # File
//
// The database and its -wal and -shm files have mode 0600: Open creates the
// file itself with that mode before SQLite sees it, and chmods it (and the
// sidecars) back to 0600 if it finds them looser. Every connection runs
// with journal_mode=WAL (readers never block the writer), synchronous=FULL
// (a commit is on disk when it returns, so callers may acknowledge it),
// foreign_keys=ON, a busy timeout, and BEGIN IMMEDIATE transactions (a
// writer takes the lock up front and queues on the busy timeout instead of
// failing when it upgrades from reading). These are DSN options, so every
// pooled connection gets them; Open checks that WAL took effect.
//
// # Migrations
//
// Schema changes are the files migrations/NNNN_name.sql, embedded in the
// binary. Their versions run 1, 2, 3, ... with no gaps. Open applies those
// above the database's version in order, each in its own transaction
// together with its row in schema_migrations(version, name, applied_at),
// so a failing migration leaves the database whole at the version before.
// A database whose version is above the newest embedded migration was
// written by a newer akidb: Open refuses it with *SchemaTooNewError rather
// than write to tables it does not understand. Adding a table is adding a
// file; never edit a file that has shipped. A migration runs inside a
// transaction with foreign keys on, so one that rebuilds a table must keep
// the references valid (PRAGMA foreign_keys cannot change inside a
// transaction).
//
// # Schema (version 4)
//
//	-- 0001_catalog
//	tenants(id TEXT PK, name TEXT UNIQUE NOT NULL, created_at INTEGER)
//	collections(id TEXT PK, tenant_id TEXT REFERENCES tenants, name TEXT,
//	            dimension INTEGER, metric TEXT, m INTEGER, ef_construction INTEGER,
//	            state TEXT CHECK IN ('creating','ready','dropping'),
//	            created_at INTEGER, UNIQUE(tenant_id, name))
//	-- 0002_auth
//	api_keys(id TEXT PK (16 chars), tenant_id REFERENCES tenants ON DELETE CASCADE,
//	         role TEXT CHECK IN ('admin','writer','reader'), name TEXT,
//	         secret_hash BLOB (SHA-256 of the secret, 32 bytes; never the key),
//	         collections TEXT (JSON array; '[]' = all), created_at INTEGER,
//	         expires_at INTEGER NULL, revoked_at INTEGER NULL)
//	audit_events(id INTEGER PK AUTOINCREMENT, at INTEGER, tenant_id, key_id,
//	             remote_addr, action, target, result CHECK IN ('ok','denied','failed'),
//	             request_id)  -- no foreign keys: the trail outlives tenants
//	-- 0003_limits
//	tenant_quotas(tenant_id PK REFERENCES tenants ON DELETE CASCADE,
//	              qps_limit REAL NULL, burst INTEGER NULL, max_collections,
//	              max_vectors, max_storage_bytes INTEGER NULL, updated_at)
//	api_key_rate_limits(key_id PK REFERENCES api_keys ON DELETE CASCADE,
//	              qps_limit REAL, burst INTEGER NULL, updated_at)
//	runtime_config(key TEXT PK, value TEXT (valid JSON), updated_at)
//	-- 0004_tier
//	collections.tier_policy TEXT CHECK IN ('memory','memory-s3','s3-only') DEFAULT 'memory'
//	tier_dlq(id INTEGER PK AUTOINCREMENT, collection_id REFERENCES collections ON DELETE CASCADE,
//	         tenant_id, collection_name, operation CHECK IN ('upload','delete'),
//	         kind CHECK IN ('snapshot','log','parquet','manifest'), object_key, local_file,
//	         size, sha256, first_seq, last_seq, retry_count, last_error, created_at,
//	         next_attempt_at, status CHECK IN ('pending','permanent'),
//	         UNIQUE(collection_id, operation, object_key))
//	-- 0005_disk_quota
//	tenant_quotas + max_disk_bytes INTEGER NULL (>= 0)
//	-- 0006_payload_indexes
//	payload_indexes(collection_id REFERENCES collections ON DELETE CASCADE,
//	                field TEXT (1..256 bytes), type TEXT CHECK IN
//	                ('keyword','integer','float'), created_at INTEGER,
//	                PRIMARY KEY (collection_id, field))
//	-- 0007_quantization
//	collection_quantization(collection_id PK REFERENCES collections ON DELETE CASCADE,
//	                        type CHECK IN ('none','int8'), originals CHECK IN ('memory','disk'),
//	                        ranges CHECK IN ('auto','collection','dimension'), updated_at,
//	                        CHECK (type = 'int8' OR originals = 'memory'))
//
// Tables are STRICT. Times are INTEGER Unix milliseconds, UTC. Ids are
// random version-4 UUIDs in canonical lowercase form, except the tenant
// "default", which migration 0001 creates and which cannot be deleted.
// A collection id names its directory, collections/<id>/.
//
// # Collections and their directories
//
// The engine owns a collection's directory, this package its catalog row;
// the state column keeps them consistent across crashes:
//
//	create: InsertCollection (creating) -> engine makes the directory -> MarkCollectionReady
//	drop:   MarkCollectionDropping      -> engine removes the directory -> DeleteCollection
//
// On startup the engine lists the creating and dropping rows
// (ListCollectionsByState) and finishes them (creating: remove the
// directory if any and delete the row; dropping: remove the directory and
// delete the row), then removes directories that have no row. A name stays
// taken until its row is deleted.
//
// # Errors
//
// Callers branch with errors.Is on ErrNotFound, ErrAlreadyExists (UNIQUE
// and PRIMARY KEY violations), ErrInUse, ErrInvalidArgument,
// ErrInvalidTransition and ErrCorrupt, and with errors.As on
// *SchemaTooNewError. Packages running their own queries through DB map
// SQLite errors the same way with TranslateError.
package meta
