package tier

import "time"

// CollectionInfo is what the manifest records of a collection.
type CollectionInfo struct {
	ID             string
	TenantID       string
	TenantName     string
	Name           string
	Dimension      int
	Metric         string
	M              int
	EfConstruction int
	Seed           int64
	Policy         string
	CreatedAt      time.Time
}

// Source is one collection as the shipper sees it; the engine implements
// it over a collection's log and snapshots. The shipper only reads: it
// never changes the collection, and it holds no engine lock while it
// uploads.
type Source interface {
	Info() CollectionInfo
	// Settings are the collection's settings as they are now (the catalog
	// changes them while it ships); each manifest written records them.
	Settings() (Settings, error)
	// Dir is the collection's directory; the shipper keeps its staged
	// files and its copy of the manifest in Dir()/tier.
	Dir() string
	// LastSeq is the last acknowledged log record (cheap: for the ship
	// lag).
	LastSeq() uint64
	// SyncedSeq makes the log durable and returns the last record that is:
	// what may be shipped (under fsync=always that is LastSeq; otherwise
	// the log is fsynced first).
	SyncedSeq() (uint64, error)
	// LogFirstSeq is the oldest record the local log still holds.
	LogFirstSeq() uint64
	// ReadLog calls fn for the records from..to in order.
	ReadLog(from, to uint64, fn func(seq uint64, typ byte, payload []byte) error) error
	// Snapshots lists the local snapshots' sequence numbers, newest first.
	Snapshots() ([]uint64, error)
	// SnapshotPath is the file of the snapshot at seq.
	SnapshotPath(seq uint64) string
	// RequestCheckpoint asks for a checkpoint soon (in the background).
	RequestCheckpoint()
}

// Observer is told what the tier does, for metrics (serve/metrics
// implements it). Calls come from the tier's workers; keep them cheap.
type Observer interface {
	// Upload: kind is snapshot, log, parquet or manifest; result is
	// success, failure or breaker_open.
	Upload(kind, result string, d time.Duration, bytes int64)
	// DLQRetry: result is success, failure or permanent_failure.
	DLQRetry(result string)
}

type nopObserver struct{}

func (nopObserver) Upload(string, string, time.Duration, int64) {}
func (nopObserver) DLQRetry(string)                             {}
