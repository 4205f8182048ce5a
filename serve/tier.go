package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/tier/s3"
	"github.com/akidb/akidb/export"
	"github.com/akidb/akidb/serve/metrics"
)

// TierConfig configures the object storage tier (docs/tiering.md).
// Without S3 (and Store) nothing is shipped: the server is local-only.
type TierConfig struct {
	// S3 is the MinIO/S3 store (--s3-endpoint and the other --s3-* flags).
	S3 *s3.Config
	// Store, if set, is used instead of S3 (tests: a memory store).
	Store tier.ObjectStore
	// Prefix is prepended to every key (--s3-prefix).
	Prefix string
	// DefaultPolicy is the policy of collections created without one
	// (--tier-policy; "" is memory).
	DefaultPolicy string
	// The tuning knobs (zero: the tier's defaults).
	ShipInterval     time.Duration
	KeepSnapshots    int
	DLQRetryInterval time.Duration
	DLQBatch         int
	DLQMaxRetries    int
	// MemoryBudget bounds the memory of the collections in memory
	// (--tier-memory-budget; 0: none, nothing is evicted); EvictAfter is
	// the least idle time before one is evicted (--tier-evict-after; 0:
	// 30 minutes); CacheBytes bounds the local snapshots of s3-only
	// collections (--s3-cache-bytes; 0 keeps none, negative: no bound).
	MemoryBudget int64
	EvictAfter   time.Duration
	CacheBytes   int64
	// Clock drives the breaker and the DLQ schedule (tests); nil is the
	// system clock.
	Clock tier.Clock
	// Manual leaves the ship loop and the retry worker stopped (tests drive
	// them).
	Manual bool
}

// enabled reports whether an object store is configured.
func (tc TierConfig) enabled() bool { return tc.S3 != nil || tc.Store != nil }

// bucketCheckTimeout bounds the start-up check of the bucket.
const bucketCheckTimeout = 15 * time.Second

// openStore makes the object store. A store that does not answer at start
// is not fatal (uploads wait in the DLQ until it does); one that answers
// no (a missing bucket, refused credentials) is.
func (s *Server) openStore() (tier.ObjectStore, error) {
	tc := s.cfg.Tier
	if tc.Store != nil {
		return tc.Store, nil
	}
	st, err := s3.New(*tc.S3)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), bucketCheckTimeout)
	defer cancel()
	if err := st.CheckBucket(ctx); err != nil {
		if !s3.Unreachable(err) {
			return nil, err
		}
		s.log.Warn("the object store does not answer; uploads wait in the dead-letter queue until it does", "endpoint", tc.S3.Endpoint, "bucket", tc.S3.Bucket, "err", err)
	}
	if tc.S3.InsecureSkipVerify {
		s.log.Warn("TLS certificate verification of the object store is OFF (--s3-insecure-skip-verify)", "endpoint", tc.S3.Endpoint)
	}
	return st, nil
}

// engineTier returns the engine's tier configuration (nil: local-only).
func (s *Server) engineTier() (*engine.TierConfig, error) {
	tc := s.cfg.Tier
	if !tc.enabled() {
		return nil, nil
	}
	store, err := s.openStore()
	if err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	s.log.Info("object storage tier", "store", store.Name(), "prefix", tc.Prefix, "default_policy", tc.DefaultPolicy,
		"ship_interval", tc.ShipInterval, "keep_snapshots", tc.KeepSnapshots, "dlq_retry_interval", tc.DLQRetryInterval)
	// Each checkpoint of a memory-s3 collection also exports its records as
	// Parquet, shipped after the snapshot (docs/tiering.md).
	parquet := func(ctx context.Context, w io.Writer, v *engine.RecordView) error {
		_, err := export.WriteParquet(ctx, w, v, export.Options{Version: s.cfg.Version})
		return err
	}
	if tc.MemoryBudget > 0 {
		s.log.Info("memory budget of the collections in memory", "budget_bytes", tc.MemoryBudget, "evict_after", tc.EvictAfter, "s3_cache_bytes", tc.CacheBytes)
	}
	return &engine.TierConfig{NoBackground: tc.Manual, Parquet: parquet,
		MemoryBudget: tc.MemoryBudget, EvictAfter: tc.EvictAfter, CacheBytes: tc.CacheBytes,
		// Evicted collections' memory goes back to the system at once, so
		// the process's RSS follows the budget instead of the Go heap's
		// high-water mark.
		ReleaseMemory: debug.FreeOSMemory,
		Tier: tier.Config{
			Store: store, Prefix: tc.Prefix, Clock: tc.Clock, Observer: s.metrics,
			ShipInterval: tc.ShipInterval, KeepSnapshots: tc.KeepSnapshots,
			DLQRetryInterval: tc.DLQRetryInterval, DLQBatch: tc.DLQBatch, DLQMaxRetries: tc.DLQMaxRetries,
		}}, nil
}

// residencyTotals reads the residency gauges for a scrape (no collection
// is loaded); without sizes, no collection is asked for its memory.
func residencyTotals(db *engine.DB, sizes bool) metrics.ResidencyTotals {
	var t engine.ResidencyTotals
	if sizes {
		t = db.ResidencyTotals()
	} else {
		t = db.ResidencyCounts()
	}
	return metrics.ResidencyTotals{Resident: t.Resident, Unavailable: t.Unavailable, ResidentBytes: t.ResidentBytes, Budget: t.Budget, CacheBytes: t.CacheBytes}
}

// tierTotals reads the tier's gauges for a scrape.
func tierTotals(db *engine.DB) (metrics.TierTotals, bool) {
	t := db.Tier()
	if t == nil {
		return metrics.TierTotals{}, false
	}
	tot, err := t.Totals(context.Background())
	if err != nil && !errors.Is(err, context.Canceled) {
		return metrics.TierTotals{}, false
	}
	out := metrics.TierTotals{Store: tot.Store, BreakerState: int(tot.Breaker), ShipLag: tot.ShipLag}
	for _, n := range tot.DLQ {
		if n.Status == meta.DLQPermanent {
			out.DLQPermanent += n.Count
		} else {
			out.DLQPending += n.Count
		}
	}
	return out, true
}
