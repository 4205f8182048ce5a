package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/engine/wal"
	"github.com/akidb/akidb/serve"
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
collection is checkpointed, and the data directory is closed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := serveConfig(c)
			if err != nil {
				return err
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
	f.Int64("segment-size", 64<<20, "log segment size in bytes")
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
	f.Int("max-delete-ids", def.Limits.MaxDeleteIDs, "ids per delete request")
	return cmd
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
	if err := validateServeConfig(cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
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
	}
	return nil
}
