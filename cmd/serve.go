package cmd

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/wal"
	"github.com/akidb/akidb/serve"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/ratelimit"
)

func newServeCommand(c *cli) *cobra.Command {
	def := serve.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the database server (REST and gRPC)",
		Long: `Run AkiDB: REST (JSON over HTTP) and gRPC from one engine. With no flags it keeps
its data in ./akidb-data and listens on 127.0.0.1:8080 (REST) and
127.0.0.1:9090 (gRPC). SIGINT or SIGTERM stop it gracefully: new requests are
refused, requests in flight finish (up to --shutdown-timeout), every
collection is checkpointed, and the data directory is closed.

Security is on by default. Every /api/v1 and /admin request and every
akidb.v1 RPC needs a credential: "Authorization: Bearer <api-key-or-jwt>" (or
X-API-Key; gRPC metadata "authorization"). On the first start of an empty data
directory an admin key is created and written to
<data-dir>/secrets/bootstrap-admin.key (0600), and printed once on stderr if
that is a terminal (else only the file's path is). Revoking or rotating that
key deletes the file. --bootstrap-admin-key-file takes that first key from a
file instead (a key from "akidb keys generate", in a Kubernetes Secret say),
and neither prints nor saves it. --auth=false (AKIDB_AUTH=false)
turns authentication off for trusted local development only; it is refused
on an address other than loopback.

On an address other than loopback (0.0.0.0, a LAN IP, a host name) the
server refuses to start without TLS unless --allow-plaintext is given (for a
proxy in front that terminates TLS); it then warns at start and on /readyz.

--tls-cert and --tls-key serve REST and gRPC over TLS (1.3 unless
--tls-min-version 1.2); --tls-client-ca also requires client certificates
(mTLS). The certificate is reloaded when its files change and on SIGHUP.
JWTs are signed with --jwt-secret-file or AKIDB_JWT_SECRET (at least 32 bytes),
else with <data-dir>/secrets/jwt.key, generated once. See docs/security.md.

Every tenant has a token bucket (default 100 requests/s, burst 200; "akidb
config set" changes the defaults, "akidb quota set" a tenant's own, both
without a restart). --max-in-flight bounds the requests being served at once
(one tenant may hold --tenant-in-flight-share of them; more get 429) and
--request-timeout each one; past either the answer is 503 with Retry-After.
A REST body is read, within --body-timeout (408 past it; a gRPC message
must arrive within it too), before the request takes its slot;
--max-inflight-body-bytes bounds the bytes of bodies held at once (503 past
it) and --max-response-bytes an answer. Unless GOMEMLIMIT is set, the Go heap is held to 75% of the
memory available (cgroup limit or RAM). See docs/limits.md.

With --s3-endpoint and --s3-bucket, collections with the memory-s3 or s3-only
tiering policy (--tier-policy sets the default; PATCH /api/v1/collections/{name}
changes one) ship every snapshot and, every --s3-ship-interval, the durable log
to MinIO/S3; failed uploads wait in a dead-letter queue that a worker retries.
With --tier-memory-budget, such collections unused for --tier-evict-after leave
memory when the collections in memory take more than the budget, and come back
on the next request; s3-only ones keep only a cache of their snapshots on the
local disk (--s3-cache-bytes).
Credentials: AKIDB_S3_ACCESS_KEY and AKIDB_S3_SECRET_KEY, or the
--s3-*-key-file flags. "akidb restore" brings a collection back. See
docs/tiering.md.`,

		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := serveConfig(c)
			if err != nil {
				return err
			}
			cfg.NoticesTerminal = c.st.StderrTerminal
			if c.st.Hangups != nil {
				reload, stop := c.st.Hangups()
				defer stop()
				cfg.Reload = reload
			}
			return serve.Run(cmd.Context(), cfg, c.logger, c.st.Stderr)
		},
	}
	f := cmd.Flags()
	f.String("data-dir", def.DataDir, "data directory (created if missing)")
	f.String("rest-addr", def.RESTAddr, "REST listen address")
	f.String("grpc-addr", def.GRPCAddr, "gRPC listen address")
	f.String("fsync", "always", "log fsync policy: always (no acknowledged write is lost), interval, none")
	f.Duration("fsync-interval", 0, "fsync period for --fsync=interval (default 100ms)")
	f.Duration("commit-delay", engine.DefaultCommitDelay, "fsync=always: the longest a write waits for concurrent writes to share its fsync (0 disables)")
	f.Int64("segment-size", 64<<20, "the most a log segment grows to, in bytes (a collection's log starts with 64 KiB and doubles as it fills)")
	f.Int("checkpoint-records", 50000, "checkpoint a collection after this many logged records (-1 disables)")
	f.Int64("checkpoint-bytes", 256<<20, "checkpoint a collection after this many logged bytes (-1 disables)")
	f.Float64("vacuum-ratio", 0.1, "vacuum tombstones at checkpoint when they are at least this fraction of a collection")
	f.Duration("shutdown-timeout", def.ShutdownTimeout, "how long in-flight requests may drain on shutdown")
	f.Duration("read-header-timeout", def.ReadHeaderTimeout, "HTTP: time to read request headers")
	f.Duration("read-timeout", def.ReadTimeout, "HTTP: time to read a whole request")
	f.Duration("write-timeout", def.WriteTimeout, "HTTP: time to write a response")
	f.Duration("idle-timeout", def.IdleTimeout, "HTTP and gRPC: idle keep-alive connection lifetime")
	f.Uint32("max-concurrent-streams", def.MaxConcurrentStreams, "HTTP/2 and gRPC streams per connection")
	f.Int("max-batch", def.Limits.MaxBatch, "vectors per upsert request")
	f.Int("max-k", def.Limits.MaxK, "k per query")
	f.Int("max-dimension", def.Limits.MaxDimension, "dimension of a new collection")
	f.Int64("max-body-bytes", def.Limits.MaxBodyBytes, "request body (REST) and message (gRPC) size")
	f.Int64("max-response-bytes", 0, fmt.Sprintf("response body (REST) and message (gRPC) size; larger answers are refused with response_too_large (0: the largest the request limits allow, %d with the defaults)",
		api.DefaultMaxResponseBytes(def.Limits)))
	f.Int("max-delete-ids", def.Limits.MaxDeleteIDs, "ids per delete request")
	f.Bool("auth", true, "require credentials on every API request; --auth=false is for trusted local development only and refused on an address other than loopback")
	f.Bool("allow-plaintext", false, "serve without TLS on an address other than loopback (a proxy in front terminates TLS); refused without it")
	f.String("bootstrap-admin-key-file", "", "file holding the first admin key of a new data directory (from `akidb keys generate`, e.g. a mounted Secret) instead of a generated one")
	f.String("jwt-secret-file", "", "file holding the JWT signing secret (at least 32 bytes); default: AKIDB_JWT_SECRET, else <data-dir>/secrets/jwt.key")
	f.Duration("token-ttl", auth.DefaultTokenTTL, "lifetime of a JWT issued by POST /api/v1/auth/token")
	f.Duration("key-cache-ttl", auth.DefaultCacheTTL, "how long a verified API key is trusted from memory (revocations through this server apply at once)")
	f.Int("auth-max-failures", auth.DefaultMaxFailures, "failed authentications of one key id from one address before that key id is refused from there for --auth-failure-window (other keys still work)")
	f.Int("auth-max-source-failures", 0, fmt.Sprintf("failed authentications from one address, whatever the key ids, before the whole address is refused (0: %d × --auth-max-failures)", auth.DefaultSourceFailuresFactor))
	f.Duration("auth-failure-window", auth.DefaultFailureWindow, "window in which failures count, and how long a throttled key id or address waits")
	f.Duration("audit-retention", auth.DefaultAuditRetention, "how long audit events are kept")
	f.Int("audit-max-events", auth.DefaultAuditMaxEvents, "most audit events kept")
	f.String("tls-cert", "", "PEM certificate (chain) for REST and gRPC; with --tls-key turns on TLS")
	f.String("tls-key", "", "PEM private key of --tls-cert")
	f.String("tls-client-ca", "", "PEM CA bundle: require client certificates signed by it (mutual TLS)")
	f.String("tls-min-version", "1.3", "lowest TLS version accepted: 1.3 or 1.2")
	f.Int("max-in-flight", 0, fmt.Sprintf("requests in flight at once, REST and gRPC together; more are answered 503 at once (0: %d per CPU, at least %d; %d here)",
		ratelimit.DefaultInFlightPerCPU, ratelimit.MinDefaultInFlight, ratelimit.DefaultMaxInFlight(runtime.GOMAXPROCS(0))))
	f.Duration("request-timeout", ratelimit.DefaultRequestTimeout, "longest a request may run (or the client's earlier deadline); past it the answer is 503 with Retry-After")
	f.Float64("tenant-in-flight-share", def.Limiting.TenantShare, "share of --max-in-flight (and of the request bodies being read, and of --max-inflight-body-bytes) one tenant may hold, in (0, 1]; past it its requests get 429 while other tenants are served")
	f.Duration("body-timeout", def.Limiting.BodyTimeout, "time a client has to send a REST request body (read before the request takes an in-flight slot; slower gets 408) or a gRPC request message (slower gets DEADLINE_EXCEEDED)")
	f.Int64("max-inflight-body-bytes", 0, fmt.Sprintf("bytes of request bodies (REST) and messages (gRPC) held at once, from their reading until their answer; more are answered 503, past a tenant's --tenant-in-flight-share 429 (0: %d per --max-in-flight, at most 1/8 of the memory limit, at least --max-body-bytes)",
		ratelimit.BodyBytesPerInFlight))
	f.Int64("quota-max-collections", -1, "default most collections per tenant, for tenants whose quota sets none (-1: unlimited)")
	f.Int64("quota-max-vectors", -1, "default most live records per tenant (-1: unlimited)")
	f.Int64("quota-max-storage-bytes", -1, "default most bytes of in-memory collection size per tenant (-1: unlimited)")
	f.Int64("quota-max-disk-bytes", -1, "default most bytes of collection files (logs, snapshots) per tenant (-1: unlimited)")
	addS3Flags(f)
	f.String("tier-policy", engine.TierMemory, "tiering policy of collections created without one: memory, memory-s3 or s3-only (the last two need --s3-endpoint)")
	f.String("tier-memory-budget", "0", "memory the collections in memory may take (e.g. 512MiB); over it, the least recently used idle memory-s3 and s3-only collections are evicted (0: no budget, nothing is evicted; needs --s3-endpoint)")
	f.Duration("tier-evict-after", engine.DefaultEvictAfter, "how long a collection must go unused before the memory budget may evict it")
	f.String("s3-cache-bytes", "1GiB", "bound of the local snapshot copies of s3-only collections (e.g. 2GiB); past it, those the store holds are deleted, least recently used first (0: keep none)")
	f.Duration("s3-ship-interval", tier.DefaultShipInterval, "how often the durable log is shipped to the object store: the recovery point")
	f.Int("s3-keep-snapshots", tier.DefaultKeepSnapshots, "snapshots kept in the object store per collection, with the log after the oldest")
	f.Duration("dlq-retry-interval", tier.DefaultDLQRetryInterval, "how often the dead-letter queue's retry worker runs (and the base of its back-off)")
	f.Int("dlq-batch", tier.DefaultDLQBatch, "entries one retry run takes, oldest first")
	f.Int("dlq-max-retries", tier.DefaultDLQMaxRetries, "failed retries after which an entry is permanent (an operator retries or discards it)")
	return cmd
}

// tierConfig reads the object storage tier's flags.
func tierConfig(c *cli) (serve.TierConfig, error) {
	v := c.v
	var tc serve.TierConfig
	s3cfg, err := s3Config(c)
	if err != nil {
		return tc, err
	}
	tc.S3 = s3cfg
	tc.Prefix = v.GetString("s3-prefix")
	tc.DefaultPolicy = v.GetString("tier-policy")
	switch tc.DefaultPolicy {
	case engine.TierMemory:
	case engine.TierMemoryS3, engine.TierS3Only:
		if s3cfg == nil {
			return tc, fmt.Errorf("--tier-policy %s needs an object store: set --s3-endpoint and --s3-bucket", tc.DefaultPolicy)
		}
	default:
		return tc, fmt.Errorf("--tier-policy %q: want memory, memory-s3 or s3-only", tc.DefaultPolicy)
	}
	if tc.MemoryBudget, err = parseBytes(v.GetString("tier-memory-budget")); err != nil || tc.MemoryBudget < 0 {
		return tc, fmt.Errorf("--tier-memory-budget %q: want a byte count such as 536870912 or 512MiB (0: no budget)", v.GetString("tier-memory-budget"))
	}
	if tc.CacheBytes, err = parseBytes(v.GetString("s3-cache-bytes")); err != nil || tc.CacheBytes < 0 {
		return tc, fmt.Errorf("--s3-cache-bytes %q: want a byte count such as 1073741824 or 1GiB (0: keep no local snapshot of an s3-only collection)", v.GetString("s3-cache-bytes"))
	}
	tc.EvictAfter = v.GetDuration("tier-evict-after")
	switch {
	case tc.MemoryBudget > 0 && s3cfg == nil:
		return tc, fmt.Errorf("--tier-memory-budget needs an object store (--s3-endpoint and --s3-bucket): only memory-s3 and s3-only collections leave memory")
	case tc.EvictAfter <= 0:
		return tc, fmt.Errorf("--tier-evict-after must be positive")
	}
	tc.ShipInterval = v.GetDuration("s3-ship-interval")
	tc.KeepSnapshots = v.GetInt("s3-keep-snapshots")
	tc.DLQRetryInterval = v.GetDuration("dlq-retry-interval")
	tc.DLQBatch = v.GetInt("dlq-batch")
	tc.DLQMaxRetries = v.GetInt("dlq-max-retries")
	switch {
	case tc.ShipInterval <= 0:
		return tc, fmt.Errorf("--s3-ship-interval must be positive")
	case tc.KeepSnapshots < 1:
		return tc, fmt.Errorf("--s3-keep-snapshots must be at least 1")
	case tc.DLQRetryInterval <= 0:
		return tc, fmt.Errorf("--dlq-retry-interval must be positive")
	case tc.DLQBatch < 1 || tc.DLQBatch > 1000:
		return tc, fmt.Errorf("--dlq-batch must be between 1 and 1000")
	case tc.DLQMaxRetries < 1:
		return tc, fmt.Errorf("--dlq-max-retries must be at least 1")
	}
	return tc, nil
}

// serveConfig turns the layered settings into serve.Config.
func serveConfig(c *cli) (serve.Config, error) {
	v := c.v
	cfg := serve.DefaultConfig()
	cfg.Version = version
	cfg.DataDir = v.GetString("data-dir")
	cfg.RESTAddr = v.GetString("rest-addr")
	cfg.GRPCAddr = v.GetString("grpc-addr")
	policy, err := wal.ParseSyncPolicy(v.GetString("fsync"))
	if err != nil {
		return cfg, fmt.Errorf("--fsync: %w", err)
	}
	cfg.Engine.Sync = policy
	cfg.Engine.SyncInterval = v.GetDuration("fsync-interval")
	switch d := v.GetDuration("commit-delay"); {
	case d < 0:
		return cfg, fmt.Errorf("--commit-delay %v: must not be negative", d)
	case d == 0:
		cfg.Engine.CommitDelay = -1 // the engine reads 0 as "default"
	default:
		cfg.Engine.CommitDelay = d
	}
	cfg.Engine.SegmentSize = v.GetInt64("segment-size")
	cfg.Engine.CheckpointRecords = v.GetInt("checkpoint-records")
	cfg.Engine.CheckpointBytes = v.GetInt64("checkpoint-bytes")
	cfg.Engine.VacuumRatio = v.GetFloat64("vacuum-ratio")
	cfg.ShutdownTimeout = v.GetDuration("shutdown-timeout")
	cfg.ReadHeaderTimeout = v.GetDuration("read-header-timeout")
	cfg.ReadTimeout = v.GetDuration("read-timeout")
	cfg.WriteTimeout = v.GetDuration("write-timeout")
	cfg.IdleTimeout = v.GetDuration("idle-timeout")
	cfg.MaxConcurrentStreams = v.GetUint32("max-concurrent-streams")
	cfg.Limits.MaxBatch = v.GetInt("max-batch")
	cfg.Limits.MaxK = v.GetInt("max-k")
	cfg.Limits.MaxDimension = v.GetInt("max-dimension")
	cfg.Limits.MaxBodyBytes = v.GetInt64("max-body-bytes")
	cfg.Limits.MaxDeleteIDs = v.GetInt("max-delete-ids")
	cfg.Limits.MaxResponseBytes = v.GetInt64("max-response-bytes")
	cfg.Auth.Disabled = !v.GetBool("auth")
	cfg.AllowPlaintext = v.GetBool("allow-plaintext")
	cfg.Auth.TokenTTL = v.GetDuration("token-ttl")
	cfg.Auth.KeyCacheTTL = v.GetDuration("key-cache-ttl")
	cfg.Auth.Throttle.MaxFailures = v.GetInt("auth-max-failures")
	cfg.Auth.Throttle.MaxSourceFailures = v.GetInt("auth-max-source-failures")
	cfg.Auth.Throttle.Window = v.GetDuration("auth-failure-window")
	cfg.Auth.AuditRetention = v.GetDuration("audit-retention")
	cfg.Auth.AuditMaxEvents = v.GetInt("audit-max-events")
	if cfg.Auth.JWTSecret, err = jwtSecret(c, v.GetString("jwt-secret-file")); err != nil {
		return cfg, err
	}
	if cfg.Auth.BootstrapKey, err = bootstrapKey(v.GetString("bootstrap-admin-key-file")); err != nil {
		return cfg, err
	}
	cfg.TLS.CertFile = v.GetString("tls-cert")
	cfg.TLS.KeyFile = v.GetString("tls-key")
	cfg.TLS.ClientCAFile = v.GetString("tls-client-ca")
	cfg.TLS.MinVersion = v.GetString("tls-min-version")
	cfg.Limiting.MaxInFlight = v.GetInt("max-in-flight")
	cfg.Limiting.RequestTimeout = v.GetDuration("request-timeout")
	cfg.Limiting.TenantShare = v.GetFloat64("tenant-in-flight-share")
	cfg.Limiting.BodyTimeout = v.GetDuration("body-timeout")
	cfg.Limiting.MaxInflightBodyBytes = v.GetInt64("max-inflight-body-bytes")
	for _, q := range []struct {
		flag string
		dst  **int64
	}{{"quota-max-collections", &cfg.Limiting.QuotaDefaults.MaxCollections}, {"quota-max-vectors", &cfg.Limiting.QuotaDefaults.MaxVectors},
		{"quota-max-storage-bytes", &cfg.Limiting.QuotaDefaults.MaxStorageBytes}, {"quota-max-disk-bytes", &cfg.Limiting.QuotaDefaults.MaxDiskBytes}} {
		switch n := v.GetInt64(q.flag); {
		case n < -1:
			return cfg, fmt.Errorf("--%s must be -1 (unlimited) or at least 0", q.flag)
		case n >= 0:
			*q.dst = &n
		}
	}
	if cfg.Tier, err = tierConfig(c); err != nil {
		return cfg, err
	}
	if err := validateServeConfig(cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// jwtSecret reads the signing secret from --jwt-secret-file or the
// AKIDB_JWT_SECRET environment variable (not a flag: a flag's value shows
// in the process list). Surrounding whitespace is not part of it. Neither
// set: nil, and serve/auth keeps one in the data directory.
func jwtSecret(c *cli, file string) ([]byte, error) {
	env, inEnv := c.st.LookupEnv("AKIDB_JWT_SECRET")
	var secret []byte
	switch {
	case file != "" && inEnv:
		return nil, fmt.Errorf("both --jwt-secret-file and AKIDB_JWT_SECRET are set; use one")
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--jwt-secret-file: %w", err)
		}
		secret = bytes.TrimSpace(data)
	case inEnv:
		secret = []byte(strings.TrimSpace(env))
	default:
		return nil, nil
	}
	if len(secret) < auth.MinJWTSecretLen {
		return nil, fmt.Errorf("the JWT signing secret is %d bytes; it must be at least %d (e.g. head -c 32 /dev/urandom | base64)", len(secret), auth.MinJWTSecretLen)
	}
	return secret, nil
}

// bootstrapKey reads --bootstrap-admin-key-file: one API key, surrounding
// whitespace (a trailing newline) not part of it.
func bootstrapKey(file string) (auth.APIKey, error) {
	if file == "" {
		return "", nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--bootstrap-admin-key-file: %w", err)
	}
	key, err := auth.ParseKey(string(bytes.TrimSpace(data)))
	if err != nil {
		return "", fmt.Errorf("--bootstrap-admin-key-file %s: %w", file, err)
	}
	return key, nil
}

func validateServeConfig(cfg serve.Config) error {
	switch {
	case cfg.DataDir == "":
		return fmt.Errorf("--data-dir must not be empty")
	case cfg.Limits.MaxBatch < 1:
		return fmt.Errorf("--max-batch must be at least 1")
	case cfg.Limits.MaxK < 1:
		return fmt.Errorf("--max-k must be at least 1")
	case cfg.Limits.MaxDimension < 1 || cfg.Limits.MaxDimension > 8192:
		return fmt.Errorf("--max-dimension must be between 1 and 8192")
	case cfg.Limits.MaxBodyBytes < 1024:
		return fmt.Errorf("--max-body-bytes must be at least 1024")
	case cfg.ShutdownTimeout <= 0:
		return fmt.Errorf("--shutdown-timeout must be positive")
	case cfg.Engine.VacuumRatio <= 0 || cfg.Engine.VacuumRatio > 1:
		return fmt.Errorf("--vacuum-ratio must be in (0, 1]")
	case (cfg.TLS.CertFile == "") != (cfg.TLS.KeyFile == ""):
		return fmt.Errorf("--tls-cert and --tls-key go together")
	case cfg.TLS.ClientCAFile != "" && cfg.TLS.CertFile == "":
		return fmt.Errorf("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key")
	case cfg.TLS.MinVersion != "1.3" && cfg.TLS.MinVersion != "1.2":
		return fmt.Errorf("--tls-min-version must be 1.3 or 1.2")
	case cfg.Auth.Disabled && cfg.Auth.BootstrapKey != "":
		return fmt.Errorf("--bootstrap-admin-key-file needs authentication on; drop it or --auth=false")
	case cfg.Auth.TokenTTL <= 0:
		return fmt.Errorf("--token-ttl must be positive")
	case cfg.Limiting.MaxInFlight < 0:
		return fmt.Errorf("--max-in-flight must not be negative (0: the default)")
	case cfg.Limiting.RequestTimeout <= 0:
		return fmt.Errorf("--request-timeout must be positive")
	case !(cfg.Limiting.TenantShare > 0 && cfg.Limiting.TenantShare <= 1):
		return fmt.Errorf("--tenant-in-flight-share must be in (0, 1], got %v", cfg.Limiting.TenantShare)
	case cfg.Limiting.BodyTimeout <= 0:
		return fmt.Errorf("--body-timeout must be positive")
	case cfg.Limiting.MaxInflightBodyBytes < 0:
		return fmt.Errorf("--max-inflight-body-bytes must not be negative (0: the default)")
	case cfg.Limiting.MaxInflightBodyBytes > 0 && cfg.Limiting.MaxInflightBodyBytes < cfg.Limits.MaxBodyBytes:
		return fmt.Errorf("--max-inflight-body-bytes (%d) must be at least --max-body-bytes (%d), or a body of the largest size could never be read",
			cfg.Limiting.MaxInflightBodyBytes, cfg.Limits.MaxBodyBytes)
	case cfg.Limits.MaxResponseBytes < 0:
		return fmt.Errorf("--max-response-bytes must not be negative (0: the default)")
	case cfg.Limits.MaxResponseBytes > 0 && cfg.Limits.MaxResponseBytes < 4096:
		return fmt.Errorf("--max-response-bytes must be at least 4096 (0: the default)")
	}
	return nil
}
