package wal

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// SyncPolicy says when appended records are fsynced, and therefore what a
// crash can lose. docs/wal.md spells out the losses.
type SyncPolicy int

const (
	// SyncAlways: Append returns after the fdatasync that covers its record.
	// Nothing acknowledged is ever lost.
	SyncAlways SyncPolicy = iota
	// SyncInterval: Append returns after write(2); a background loop
	// fdatasyncs every SyncInterval. A power loss or kernel crash can lose up
	// to the last interval of acknowledged records; a process crash loses
	// nothing.
	SyncInterval
	// SyncNone: Append returns after write(2); fsync only when a segment is
	// finished and on Close. A power loss can lose whatever the OS had not
	// written back; a process crash loses nothing.
	SyncNone
)

func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNone:
		return "none"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// ParseSyncPolicy parses "always", "interval" or "none".
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "always":
		return SyncAlways, nil
	case "interval":
		return SyncInterval, nil
	case "none":
		return SyncNone, nil
	}
	return 0, fmt.Errorf("wal: unknown sync policy %q (want always, interval or none)", s)
}

// Limits and defaults.
const (
	DefaultSegmentSize int64 = 64 << 20
	// DefaultInitialSegmentSize is the size a new log's first segment is
	// made with: an idle or small collection costs 64 KiB of disk, not a
	// whole segment.
	DefaultInitialSegmentSize int64 = 64 << 10
	DefaultMaxRecordSize            = 64 << 20
	DefaultSyncInterval             = 100 * time.Millisecond
	// MinSegmentSize is the smallest SegmentSize accepted (tiny segments
	// are only useful in tests).
	MinSegmentSize int64 = 256
	// MaxRecordSizeLimit caps MaxRecordSize. Readers accept records up to
	// this size whatever MaxRecordSize is now, so lowering the option never
	// turns existing records into "corruption".
	MaxRecordSizeLimit = 1 << 30
)

// Options configure a Log. The zero value is valid: OS filesystem, 64 MiB
// segments, 64 MiB records, SyncAlways, no logging.
type Options struct {
	// FS is the filesystem; nil means OSFS.
	FS FS
	// Logger receives warnings (torn tails truncated, fail-stop); nil
	// discards.
	Logger *slog.Logger
	// SegmentSize is the most a segment grows to: the log rolls to a new
	// segment before a record that would take it past this size. A batch
	// bigger than a segment goes alone into an oversized segment.
	SegmentSize int64
	// InitialSegmentSize is the size a new log's first segment is
	// allocated (and zero-filled) at; it doubles as records fill it, up to
	// SegmentSize. A segment the log rolls to starts at the size the one
	// before it reached. 0 means DefaultInitialSegmentSize, or SegmentSize
	// if that is smaller.
	InitialSegmentSize int64
	// MaxRecordSize is the largest payload Append accepts, in bytes.
	MaxRecordSize int
	// Sync is the fsync policy (default SyncAlways).
	Sync SyncPolicy
	// SyncInterval is the fsync period under SyncInterval.
	SyncInterval time.Duration
	// FirstSeq is the sequence number of the first record when the
	// directory holds no segment (e.g. a checkpoint covers everything up to
	// FirstSeq-1). Ignored otherwise. 0 means 1.
	FirstSeq uint64
	// FsyncObserver, if set, is called with the duration of every data
	// fsync (from the committer goroutine; keep it cheap).
	FsyncObserver func(time.Duration)
	// CommitDelay is how long, at most, the committer holds back an fsync
	// under SyncAlways while more records are expected to join the group;
	// it needs Writers to know that. It trades a little latency under
	// concurrency for fewer fsyncs; a lone writer is never delayed. 0
	// disables it; negative is invalid.
	CommitDelay time.Duration
	// Writers, if set, reports how many callers are currently on their way
	// to Submit or in Wait (the caller counts them). With it, the commit
	// delay holds a group until it has a record from every writer not in
	// the commit under way. It is called with the log's lock held: keep it
	// to an atomic load.
	Writers func() int
	// Clock drives the SyncInterval ticker, the commit delay and fsync
	// timings; nil means the real clock. Tests pass a fake.
	Clock Clock
}

// Clock is the time source the log uses.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
	NewTimer(d time.Duration) Timer
}

// Ticker is the part of time.Ticker the log uses.
type Ticker interface {
	Chan() <-chan time.Time
	Stop()
}

// Timer is the part of time.Timer the log uses.
type Timer interface {
	Chan() <-chan time.Time
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                   { return time.Now() }
func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }
func (realClock) NewTimer(d time.Duration) Timer   { return realTimer{time.NewTimer(d)} }

type realTicker struct{ t *time.Ticker }

func (t realTicker) Chan() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()                  { t.t.Stop() }

type realTimer struct{ t *time.Timer }

func (t realTimer) Chan() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool             { return t.t.Stop() }

// withDefaults fills in defaults and rejects invalid settings.
func (o Options) withDefaults() (Options, error) {
	if o.FS == nil {
		o.FS = OSFS{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.CommitDelay < 0 {
		return o, fmt.Errorf("wal: commit delay %v is negative", o.CommitDelay)
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.SegmentSize < MinSegmentSize {
		return o, fmt.Errorf("wal: segment size %d is below the minimum %d", o.SegmentSize, MinSegmentSize)
	}
	if o.InitialSegmentSize == 0 {
		o.InitialSegmentSize = min(DefaultInitialSegmentSize, o.SegmentSize)
	}
	if o.InitialSegmentSize < MinSegmentSize || o.InitialSegmentSize > o.SegmentSize {
		return o, fmt.Errorf("wal: initial segment size %d outside [%d, segment size %d]", o.InitialSegmentSize, MinSegmentSize, o.SegmentSize)
	}
	if o.MaxRecordSize == 0 {
		o.MaxRecordSize = DefaultMaxRecordSize
	}
	if o.MaxRecordSize < 0 || o.MaxRecordSize > MaxRecordSizeLimit {
		return o, fmt.Errorf("wal: max record size %d outside [1, %d]", o.MaxRecordSize, MaxRecordSizeLimit)
	}
	switch o.Sync {
	case SyncAlways, SyncNone:
	case SyncInterval:
		if o.SyncInterval == 0 {
			o.SyncInterval = DefaultSyncInterval
		}
		if o.SyncInterval < 0 {
			return o, fmt.Errorf("wal: negative sync interval %v", o.SyncInterval)
		}
	default:
		return o, fmt.Errorf("wal: unknown sync policy %v", o.Sync)
	}
	if o.FirstSeq == 0 {
		o.FirstSeq = 1
	}
	return o, nil
}
