package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"
)

// Log is an open write-ahead log. Append, AppendBatch, LastSeq, FirstSeq,
// Err, Sync, Replay and TruncateBefore are safe for concurrent use.
type Log struct {
	dir    string
	opts   Options
	fs     FS
	logger *slog.Logger

	mu         sync.Mutex
	pending    []byte        // framed records waiting for the committer
	units      []unit        // one per Submit/AppendBatch call waiting, in order
	ownBytes   int           // bytes of the waiting units that have their own frame
	group      *commitGroup  // the callers waiting on pending; nil if none
	committing int           // calls in the group being written and fsynced
	spare      []byte        // a drained buffer kept for reuse as pending
	nextSeq    uint64        // sequence number of the next record
	ackedSeq   uint64        // last record whose Append has returned success
	writtenSeq uint64        // last record written into a segment
	failErr    error         // set once, on the first write/fsync error
	noSpace    bool          // the last commit refused records for lack of space
	closed     bool          // Close was called
	segs       []segmentMeta // live segments, oldest first; the last is active

	// retireMu keeps TruncateBefore from removing a segment Replay reads.
	retireMu sync.RWMutex

	kick     chan struct{}   // wakes the committer; capacity 1
	syncReq  chan chan error // explicit Sync requests
	done     chan struct{}   // closed when the committer has exited
	closeErr error           // the committer's last word, read after done

	// Owned by the committer goroutine (and by Open before it starts).
	active     File
	activeOff  int64  // where the next record goes in active
	activeSize int64  // bytes allocated (and zero-filled) in active
	dirty      bool   // active has writes not yet fsynced
	ticker     Ticker // SyncInterval only
}

// segmentMeta is a live segment. end is the offset after its last record;
// for the active segment it moves with every write, and size (the file's
// length) with every growth.
type segmentMeta struct {
	path     string
	firstSeq uint64
	end      int64
	size     int64
}

// unit is one Submit or AppendBatch call waiting for the committer: a
// byte range of the pending buffer, or a large record's own frame
// (SubmitFrame), written from where the caller built it. A unit is never
// split across segments, which is what makes a batch atomic.
type unit struct {
	start, end        int    // byte range in pending (frame == nil)
	frame             []byte // the unit's bytes, when not in pending
	firstSeq, lastSeq uint64
}

// size is the unit's length in bytes.
func (u unit) size() int {
	if u.frame != nil {
		return len(u.frame)
	}
	return u.end - u.start
}

// commitGroup is every caller whose records went out in one write (and,
// under SyncAlways, one fsync). done is closed when err is final. The
// other fields are guarded by Log.mu while the group is pending.
type commitGroup struct {
	done chan struct{}
	err  error
	// refuseFrom: with err, only records from this sequence number on
	// failed (the disk filled part-way through the group; the records
	// before it are committed). 0 for all of them.
	refuseFrom uint64

	opened time.Time // when its first record was queued
	calls  int       // Submit/AppendBatch calls in it
}

// Open opens the log in dir, creating dir and a first segment if needed,
// and recovers it: a torn tail in the last segment is cut off (the bytes
// are kept as a .broken file next to it and a warning is logged), while
// anything a crash cannot explain fails Open with a *CorruptionError and
// leaves the directory untouched. Appends continue after the last record.
func Open(dir string, opts Options) (*Log, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	fsys := o.FS
	if err := ensureDir(fsys, dir); err != nil {
		return nil, err
	}
	ls, err := scanLog(fsys, dir, false)
	if err != nil {
		return nil, err
	}
	if len(ls.problems) > 0 {
		p := ls.problems[0]
		if p.Kind != TornTail {
			return nil, p.corruptionError()
		}
		if _, err := cutTornTail(fsys, ls.segs[len(ls.segs)-1], o.Logger); err != nil {
			return nil, err
		}
	}
	if err := removeTmp(fsys, dir, ls.listing.tmp, o.Logger); err != nil {
		return nil, err
	}

	l := &Log{
		dir:     dir,
		opts:    o,
		fs:      fsys,
		logger:  o.Logger,
		kick:    make(chan struct{}, 1),
		syncReq: make(chan chan error),
		done:    make(chan struct{}),
	}
	if len(ls.segs) == 0 {
		f, path, err := createSegment(fsys, dir, o.FirstSeq, o.InitialSegmentSize)
		if err != nil {
			return nil, fmt.Errorf("wal: %w", err)
		}
		l.active, l.activeOff, l.activeSize = f, segmentHeaderSize, o.InitialSegmentSize
		l.segs = []segmentMeta{{path: path, firstSeq: o.FirstSeq, end: segmentHeaderSize, size: o.InitialSegmentSize}}
		l.nextSeq = o.FirstSeq
	} else {
		for _, sc := range ls.segs {
			l.segs = append(l.segs, segmentMeta{path: sc.path, firstSeq: sc.firstSeq, end: sc.end, size: sc.size})
		}
		last := ls.segs[len(ls.segs)-1]
		f, size, err := openActive(fsys, last.path)
		if err != nil {
			return nil, err
		}
		l.active, l.activeOff, l.activeSize = f, last.end, size
		l.segs[len(l.segs)-1].size = size
		l.nextSeq = last.lastSeq + 1
	}
	l.ackedSeq, l.writtenSeq = l.nextSeq-1, l.nextSeq-1
	if o.Sync == SyncInterval {
		l.ticker = o.Clock.NewTicker(o.SyncInterval)
	}
	go l.run()
	return l, nil
}

// ensureDir creates dir (and missing parents) if needed and makes each new
// entry durable in its parent.
func ensureDir(fsys FS, dir string) error {
	if err := MkdirAllDurable(fsys, dir, dirPerm); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	return nil
}

// openActive opens the last segment for appending and returns its size.
// It is grown as records need room (Log.ensureRoom), not here.
func openActive(fsys FS, path string) (File, int64, error) {
	f, err := fsys.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("wal: open %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("wal: stat %s: %w", path, err)
	}
	return f, fi.Size(), nil
}

// Append adds one record and returns its sequence number once the record is
// covered by the sync policy: fsynced under SyncAlways, written (in the page
// cache) under SyncInterval and SyncNone. On error nothing is acknowledged;
// the record may or may not survive a restart.
func (l *Log) Append(typ byte, payload []byte) (uint64, error) {
	seq, p, err := l.Submit(typ, payload)
	if err != nil {
		return 0, err
	}
	return seq, p.Wait()
}

// Pending is a record Submit has queued. Until Wait returns nil the record
// is not acknowledged: it may or may not survive a crash.
type Pending struct {
	g    *commitGroup
	last uint64 // the last sequence number of the call's records
}

// Wait blocks until the record is covered by the sync policy (as Append)
// and returns the commit's outcome: nil, an ErrNoSpace refusal (the log
// goes on), or the fail-stop error.
func (p Pending) Wait() error {
	<-p.g.done
	if p.g.err != nil && p.last >= p.g.refuseFrom {
		return p.g.err
	}
	return nil
}

// Submit queues one record, wakes the committer and returns the record's
// sequence number at once, so the caller can do other work while the
// record is written and fsynced; it must call Wait before acknowledging.
// Records are committed in sequence order whatever order Waits happen in.
// The payload is copied; SubmitFrame takes a record built in place.
func (l *Log) Submit(typ byte, payload []byte) (uint64, Pending, error) {
	if len(payload) > l.opts.MaxRecordSize {
		return 0, Pending{}, fmt.Errorf("%w: payload is %d bytes, the limit is %d", ErrTooLarge, len(payload), l.opts.MaxRecordSize)
	}
	l.mu.Lock()
	if err := l.reserveLocked(1); err != nil {
		l.mu.Unlock()
		return 0, Pending{}, err
	}
	seq := l.nextSeq
	start := len(l.pending)
	l.pending = appendRecord(l.pending, seq, 0, typ, payload)
	return l.queuedLocked(unit{start: start, end: len(l.pending), firstSeq: seq, lastSeq: seq})
}

// FrameHeaderSize is the room SubmitFrame needs before a record's payload.
const FrameHeaderSize = recordHeaderSize

// ownFrameMin is the size from which SubmitFrame writes a record from its
// own buffer rather than copying it into the shared pending one: below it
// the copy is cheap and keeps a commit group's records in one write.
const ownFrameMin = 64 << 10

// SubmitFrame is Submit for a record whose payload the caller has built in
// frame after FrameHeaderSize bytes of room (frame[:FrameHeaderSize] is
// overwritten with the record's header). A large record is written from
// frame as it is, never copied, so an upsert of tens of megabytes is held
// once, not twice; the log owns frame from the call on, and the caller
// must not change it.
func (l *Log) SubmitFrame(typ byte, frame []byte) (uint64, Pending, error) {
	if len(frame) < FrameHeaderSize {
		return 0, Pending{}, fmt.Errorf("wal: a frame of %d bytes has no room for the %d-byte header", len(frame), FrameHeaderSize)
	}
	if n := len(frame) - FrameHeaderSize; n > l.opts.MaxRecordSize {
		return 0, Pending{}, fmt.Errorf("%w: payload is %d bytes, the limit is %d", ErrTooLarge, n, l.opts.MaxRecordSize)
	}
	if len(frame) < ownFrameMin {
		return l.Submit(typ, frame[FrameHeaderSize:])
	}
	l.mu.Lock()
	if err := l.reserveLocked(1); err != nil {
		l.mu.Unlock()
		return 0, Pending{}, err
	}
	seq := l.nextSeq
	frameRecord(frame, seq, 0, typ)
	l.ownBytes += len(frame)
	return l.queuedLocked(unit{frame: frame, firstSeq: seq, lastSeq: seq})
}

// queuedLocked adds a unit of one record just framed to the waiting ones
// and wakes the committer; it unlocks l.mu.
func (l *Log) queuedLocked(u unit) (uint64, Pending, error) {
	l.units = append(l.units, u)
	l.nextSeq++
	g := l.groupLocked()
	l.mu.Unlock()
	l.signal()
	return u.lastSeq, Pending{g: g, last: u.lastSeq}, nil
}

// AppendBatch adds records with consecutive sequence numbers, in order, with
// no other caller's records between them, in one write and one fsync, and
// returns the last sequence number. The batch is atomic across crashes too:
// after a restart either all of it is in the log or none of it. A batch must
// fit in one segment (or be a single record).
func (l *Log) AppendBatch(recs []Record) (uint64, error) {
	if len(recs) == 0 {
		return 0, errors.New("wal: empty batch")
	}
	total := 0
	for i, r := range recs {
		if len(r.Payload) > l.opts.MaxRecordSize {
			return 0, fmt.Errorf("%w: record %d of the batch is %d bytes, the limit is %d", ErrTooLarge, i, len(r.Payload), l.opts.MaxRecordSize)
		}
		total += frameSize(len(r.Payload))
	}
	if limit := l.opts.SegmentSize - segmentHeaderSize; len(recs) > 1 && int64(total) > limit {
		return 0, fmt.Errorf("%w: batch of %d records is %d bytes framed; a batch must fit in one segment (%d bytes)", ErrTooLarge, len(recs), total, limit)
	}
	l.mu.Lock()
	if err := l.reserveLocked(len(recs)); err != nil {
		l.mu.Unlock()
		return 0, err
	}
	first := l.nextSeq
	start := len(l.pending)
	for i, r := range recs {
		var flags byte
		if i < len(recs)-1 {
			flags = flagBatchContinues
		}
		l.pending = appendRecord(l.pending, first+uint64(i), flags, r.Type, r.Payload)
	}
	last := first + uint64(len(recs)) - 1
	l.units = append(l.units, unit{start: start, end: len(l.pending), firstSeq: first, lastSeq: last})
	l.nextSeq = last + 1
	g := l.groupLocked()
	l.mu.Unlock()
	l.signal()
	if err := (Pending{g: g, last: last}).Wait(); err != nil {
		return 0, err
	}
	return last, nil
}

// reserveLocked checks that n more records can be appended.
func (l *Log) reserveLocked(n int) error {
	if l.closed {
		return ErrClosed
	}
	if l.failErr != nil {
		return l.failErr
	}
	if uint64(n) > math.MaxUint64-(l.nextSeq-1) {
		return fmt.Errorf("wal: sequence numbers exhausted (next is %d)", l.nextSeq)
	}
	return nil
}

// groupLocked returns the group the records just added to pending belong to.
func (l *Log) groupLocked() *commitGroup {
	if l.group == nil {
		l.group = &commitGroup{done: make(chan struct{}), opened: l.opts.Clock.Now()}
	}
	l.group.calls++
	return l.group
}

func (l *Log) signal() {
	select {
	case l.kick <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// LastSeq returns the sequence number of the last acknowledged record (0 if
// the log has never held one and started at 1).
func (l *Log) LastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ackedSeq
}

// FirstSeq returns the sequence number of the oldest record the log holds
// (or will hold, if it is empty).
func (l *Log) FirstSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.segs[0].firstSeq
}

// Size returns the bytes the log's segment files hold on disk (their
// lengths: segments are allocated ahead of the records in them).
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// Bytes returns the size of the log's live segments up to their last
// record (headers included, the preallocated space after it not): what a
// restart would have to read, for monitoring (akidb_wal_bytes).
func (l *Log) Bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, s := range l.segs {
		n += s.end
	}
	return n
}

// GrowthFor returns how many bytes the log's files would grow by if a
// record with a payload of n bytes were appended now, after what is queued:
// 0 when it fits in the space the active segment has allocated, else the
// growth of that segment (it doubles) or the size of the segment the log
// would roll to. Appends running meanwhile change it: it is an estimate,
// for quota checks.
func (l *Log) GrowthFor(n int) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	last := l.segs[len(l.segs)-1]
	size := int64(frameSize(n))
	end := last.end + int64(len(l.pending)+l.ownBytes) + size
	switch {
	case end <= last.size:
		return 0
	case end > l.opts.SegmentSize && end-size > segmentHeaderSize:
		// A roll: a new segment as big as this one, or as the record.
		return max(l.opts.InitialSegmentSize, min(last.size, l.opts.SegmentSize), segmentHeaderSize+size)
	}
	return max(end, min(2*last.size, l.opts.SegmentSize)) - last.size
}

// NoSpace reports whether the last commit refused records for lack of
// disk space (ErrNoSpace) and none has succeeded since.
func (l *Log) NoSpace() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.noSpace
}

// Err returns the fail-stop error once the log has failed, else nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failErr
}

// Sync writes everything appended so far and fsyncs it, whatever the policy
// (a checkpoint under SyncInterval/SyncNone calls it before relying on the
// log).
func (l *Log) Sync() error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	reply := make(chan error, 1)
	select {
	case l.syncReq <- reply:
		return <-reply
	case <-l.done:
		return ErrClosed
	}
}

// Close commits and fsyncs what is pending, closes the active segment and
// stops the committer. It returns the fail-stop error if the log failed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.mu.Unlock()
	l.signal()
	<-l.done
	return l.closeErr
}
