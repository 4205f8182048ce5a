package tier

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/wal"
)

// Defaults of Config, as the issue and docs/tiering.md give them.
const (
	DefaultShipInterval     = 10 * time.Second
	DefaultKeepSnapshots    = 3
	DefaultDLQRetryInterval = 5 * time.Minute
	DefaultDLQBatch         = 10
	DefaultDLQMaxRetries    = 3
	// DefaultChunkBytes caps one log object; a longer backlog ships as
	// several.
	DefaultChunkBytes int64 = 64 << 20
	// DefaultWorkers is how many collections ship at once.
	DefaultWorkers = 2
)

// Config configures a Tier.
type Config struct {
	// Store is the object storage (required).
	Store ObjectStore
	// Prefix is prepended to every key ("" : the bucket's root).
	Prefix string
	// Meta is the catalog holding the dead-letter queue (required).
	Meta   *meta.Store
	Logger *slog.Logger
	// Clock drives the breaker, the DLQ schedule and the ship lag
	// (default the system clock). The background loops tick on real
	// time; tests call ShipOnce and the DLQ's RunOnce themselves.
	Clock    Clock
	Observer Observer
	// ShipInterval is how often the durable log is shipped, and so the
	// recovery point (default 10s).
	ShipInterval time.Duration
	// KeepSnapshots is how many snapshots stay in the store, with the log
	// after the oldest of them (default 3).
	KeepSnapshots int
	// DLQRetryInterval is how often the retry worker runs and the base of
	// its back-off (default 5m).
	DLQRetryInterval time.Duration
	// DLQBatch is how many due entries one run retries (default 10).
	DLQBatch int
	// DLQMaxRetries is how many failed retries turn an entry permanent
	// (default 3).
	DLQMaxRetries int
	// Breaker tunes the store's circuit breaker (its Clock defaults to
	// Clock).
	Breaker BreakerConfig
	// ChunkBytes caps one log object (default 64 MiB).
	ChunkBytes int64
	// Workers is how many collections ship at once (default 2).
	Workers int
	// Jitter returns a number in [0, 1) for the DLQ back-off (default
	// math/rand); tests fix it.
	Jitter func() float64
	// FS is the filesystem of the collections' directories, where the
	// tier stages its files, keeps its copy of the manifest and reads the
	// snapshots it uploads (default the real one; the engine passes its
	// own, so the power-cut tests cover the tier's files too).
	FS wal.FS
}

func (c Config) withDefaults() (Config, error) {
	if c.Store == nil {
		return c, errors.New("tier: an object store is required")
	}
	if c.Meta == nil {
		return c, errors.New("tier: the catalog (for the dead-letter queue) is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	c.Prefix = NormalizePrefix(c.Prefix)
	if c.ShipInterval == 0 {
		c.ShipInterval = DefaultShipInterval
	}
	if c.KeepSnapshots == 0 {
		c.KeepSnapshots = DefaultKeepSnapshots
	}
	if c.DLQRetryInterval == 0 {
		c.DLQRetryInterval = DefaultDLQRetryInterval
	}
	if c.DLQBatch == 0 {
		c.DLQBatch = DefaultDLQBatch
	}
	if c.DLQMaxRetries == 0 {
		c.DLQMaxRetries = DefaultDLQMaxRetries
	}
	if c.ChunkBytes == 0 {
		c.ChunkBytes = DefaultChunkBytes
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Jitter == nil {
		c.Jitter = rand.Float64
	}
	if c.FS == nil {
		c.FS = wal.OSFS{}
	}
	if c.Breaker.Clock == nil {
		c.Breaker.Clock = c.Clock
	}
	switch {
	case c.ShipInterval < 0:
		return c, fmt.Errorf("tier: ship interval %v is negative", c.ShipInterval)
	case c.KeepSnapshots < 1:
		return c, fmt.Errorf("tier: keep snapshots %d: at least 1", c.KeepSnapshots)
	case c.DLQRetryInterval < 0:
		return c, fmt.Errorf("tier: DLQ retry interval %v is negative", c.DLQRetryInterval)
	case c.DLQBatch < 1 || c.DLQBatch > meta.MaxDLQPage:
		return c, fmt.Errorf("tier: DLQ batch %d: 1 to %d", c.DLQBatch, meta.MaxDLQPage)
	case c.DLQMaxRetries < 1:
		return c, fmt.Errorf("tier: DLQ max retries %d: at least 1", c.DLQMaxRetries)
	case c.ChunkBytes < 1<<10:
		return c, fmt.Errorf("tier: chunk size %d: at least 1 KiB", c.ChunkBytes)
	case c.Workers < 1:
		return c, fmt.Errorf("tier: workers %d: at least 1", c.Workers)
	}
	return c, nil
}
