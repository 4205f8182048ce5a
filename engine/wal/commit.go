package wal

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// maxSpare is the largest pending buffer kept for reuse; a burst of huge
// records should not pin its memory forever.
const maxSpare = 4 << 20

// run is the committer: the only goroutine that writes or fsyncs segments.
// While it writes and fsyncs one group, new appends accumulate in pending
// and go out together next time round: that is the group commit.
func (l *Log) run() {
	defer close(l.done)
	var tick <-chan time.Time
	if l.ticker != nil {
		defer l.ticker.Stop()
		tick = l.ticker.Chan()
	}
	for {
		if closing := l.drain(); closing {
			l.shutdown()
			return
		}
		select {
		case <-l.kick:
		case <-tick:
			if err := l.syncIfDirty(); err != nil {
				l.fail(err)
			}
		case reply := <-l.syncReq:
			l.drain()
			err := l.syncIfDirty()
			if err != nil {
				l.fail(err)
			}
			reply <- l.currentErr(err)
		}
	}
}

// drain commits pending groups until there are none and reports whether
// Close has been called (no group can arrive after that).
func (l *Log) drain() (closing bool) {
	for {
		l.mu.Lock()
		if hold := l.holdLocked(); hold > 0 {
			l.mu.Unlock()
			l.sleep(hold)
			continue
		}
		buf, units, g, closing := l.pending, l.units, l.group, l.closed
		if g != nil {
			l.pending, l.spare, l.units, l.group, l.ownBytes = l.spare[:0], nil, nil, nil, 0
			l.committing = g.calls
		}
		l.mu.Unlock()
		if g == nil {
			return closing
		}
		l.commit(buf, units, g)
	}
}

// holdLocked says how much longer the committer should hold the pending
// group back so more records can join it (0: commit now). Under SyncAlways
// with a CommitDelay and a Writers count, a group is held for up to
// CommitDelay after its first record until it has a record from every
// writer not in the commit under way: one fsync for all of them costs far
// less CPU than one each. A lone writer is never held.
func (l *Log) holdLocked() time.Duration {
	g := l.group
	if g == nil || l.closed || l.opts.Sync != SyncAlways || l.opts.CommitDelay <= 0 || l.opts.Writers == nil ||
		g.calls >= l.opts.Writers()-l.committing {
		return 0
	}
	return l.opts.CommitDelay - l.opts.Clock.Now().Sub(g.opened)
}

// sleep waits for d or until a new record (Submit kicks) may complete the
// group.
func (l *Log) sleep(d time.Duration) {
	t := l.opts.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.kick:
	case <-t.Chan():
	}
}

// commit writes one group's records, fsyncs them under SyncAlways, and
// releases the waiting callers with the outcome.
//
// A full disk is not a failure: the log allocates space before it writes
// records into it, so when it finds no room (growing or creating a
// segment, or a write(2) that wrote nothing) the records from there on
// have not touched a segment. The records before them are committed as
// usual; the rest, and every record queued meanwhile, are refused with
// ErrNoSpace and their sequence numbers given back, and the next group
// tries again. Any other error, and an fsync error of any kind, is
// fail-stop (see fail).
func (l *Log) commit(buf []byte, units []unit, g *commitGroup) {
	done, err := 0, l.currentErr(nil)
	var refused *noSpaceError
	if err == nil {
		done, err = l.writeUnits(buf, units)
		if errors.As(err, &refused) {
			err = nil // commit the prefix written before the disk filled
		}
		if err == nil && l.opts.Sync == SyncAlways {
			err = l.syncIfDirty()
		}
		if err != nil {
			l.fail(err)
			refused = nil
		}
	}
	var next *commitGroup // queued meanwhile: refused with this one
	l.mu.Lock()
	wasNoSpace := l.noSpace
	switch {
	case err != nil:
		g.err = l.failErr
		if g.err == nil { // the log was closed, not failed
			g.err = err
		}
	case refused != nil:
		first := units[done].firstSeq
		g.err, g.refuseFrom = fmt.Errorf("%w: %w", ErrNoSpace, refused.err), first
		if done > 0 {
			l.ackedSeq = units[done-1].lastSeq
		}
		l.nextSeq = first
		if next = l.group; next != nil {
			next.err = g.err
			l.pending, l.units, l.group, l.ownBytes = l.pending[:0], nil, nil, 0
		}
		l.noSpace = true
	default:
		l.ackedSeq = units[len(units)-1].lastSeq
		l.noSpace = false
	}
	if cap(buf) <= maxSpare {
		l.spare = buf[:0]
	}
	l.committing = 0
	l.mu.Unlock()
	close(g.done)
	if next != nil {
		close(next.done)
	}
	switch {
	case refused != nil && !wasNoSpace:
		l.logger.Warn("wal: disk full; refusing appends until space is freed", "dir", l.dir, "err", refused.err)
	case err == nil && refused == nil && wasNoSpace:
		l.logger.Info("wal: space available again; appends resume", "dir", l.dir)
	}
}

// writeUnits writes units to the active segment, rolling to a new segment
// before a unit that would take the segment past SegmentSize. A unit that
// is bigger than a whole segment still goes in, alone, into a fresh one.
// Consecutive units in buf go out in one write; a unit with its own frame
// in one of its own. It returns how many units it wrote whole; a
// *noSpaceError means the rest were not written at all.
func (l *Log) writeUnits(buf []byte, units []unit) (int, error) {
	for i := 0; i < len(units); {
		u := units[i]
		if l.activeOff > segmentHeaderSize && l.activeOff+int64(u.size()) > l.opts.SegmentSize {
			if err := l.roll(u.firstSeq); err != nil {
				return i, err
			}
		}
		j, data := i, u.frame
		if data == nil {
			for j+1 < len(units) && units[j+1].frame == nil && l.activeOff+int64(units[j+1].end-u.start) <= l.opts.SegmentSize {
				j++
			}
			data = buf[u.start:units[j].end]
		}
		if err := l.ensureRoom(l.activeOff + int64(len(data))); err != nil {
			return i, err
		}
		if err := l.writeActive(data, units[j].lastSeq); err != nil {
			return i, err
		}
		i = j + 1
	}
	return len(units), nil
}

// ensureRoom grows the active segment to hold at least end bytes: it
// doubles (up to SegmentSize, or to end for a unit bigger than a segment),
// and the new space is zero-filled and fsynced before any record goes in,
// as a new segment's is (see zeroFill), so that every byte after the last
// record stays zero and later fdatasyncs cover only the records.
func (l *Log) ensureRoom(end int64) error {
	size := l.activeSize
	if end <= size {
		return nil
	}
	grown := max(end, min(2*size, l.opts.SegmentSize))
	name := l.active.Name()
	// Nothing of the records waiting for this room is written yet, so a
	// full disk here refuses them and leaves the log as it was (zeros
	// past its last record, whatever part of the growth happened).
	if err := l.active.Allocate(grown); err != nil {
		return refusable(fmt.Errorf("grow %s to %d bytes: %w", name, grown, err))
	}
	if err := zeroFill(l.active, size, grown); err != nil {
		return refusable(fmt.Errorf("grow %s to %d bytes: zero-fill: %w", name, grown, err))
	}
	if err := l.active.Sync(); err != nil {
		return fmt.Errorf("grow %s to %d bytes: fdatasync: %w", name, grown, err)
	}
	l.activeSize, l.dirty = grown, false
	l.mu.Lock()
	l.segs[len(l.segs)-1].size = grown
	l.mu.Unlock()
	l.logger.Debug("wal: segment grown", "segment", name, "bytes", grown)
	return nil
}

// writeActive writes b at the end of the active segment's records.
func (l *Log) writeActive(b []byte, lastSeq uint64) error {
	n, err := l.active.WriteAt(b, l.activeOff)
	if n > 0 {
		l.dirty = true
	}
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		err = fmt.Errorf("write %s at offset %d (%d of %d bytes written): %w", l.active.Name(), l.activeOff, n, len(b), err)
		if n == 0 {
			// Nothing reached the segment: a full disk (a filesystem
			// that allocates on write) can refuse these records.
			err = refusable(err)
		}
		return err
	}
	l.activeOff += int64(n)
	l.mu.Lock()
	l.segs[len(l.segs)-1].end = l.activeOff
	l.writtenSeq = lastSeq
	l.mu.Unlock()
	return nil
}

// roll finishes the active segment and starts a new one whose first record
// will be firstSeq. The old segment is fsynced first under every policy, so
// only the last segment can ever hold a torn write. The new segment is
// made before the old one is let go: if the disk has no room for it, the
// old one stays active and the records are refused (noSpaceError).
func (l *Log) roll(firstSeq uint64) error {
	if err := l.syncIfDirty(); err != nil {
		return err
	}
	// A log busy enough to fill a segment gets its next one at the size
	// this one reached, rather than growing it again from small.
	size := max(l.opts.InitialSegmentSize, min(l.activeSize, l.opts.SegmentSize))
	f, path, err := createSegment(l.fs, l.dir, firstSeq, size)
	if err != nil {
		return refusable(err)
	}
	old := l.active
	l.active, l.activeOff, l.activeSize, l.dirty = f, segmentHeaderSize, size, false
	l.mu.Lock()
	l.segs = append(l.segs, segmentMeta{path: path, firstSeq: firstSeq, end: segmentHeaderSize, size: size})
	l.mu.Unlock()
	if err := old.Close(); err != nil {
		return fmt.Errorf("close finished segment %s: %w", old.Name(), err)
	}
	l.logger.Debug("wal: new segment", "segment", path, "first_seq", firstSeq)
	return nil
}

// syncIfDirty fdatasyncs the active segment if it has unsynced writes.
func (l *Log) syncIfDirty() error {
	if !l.dirty || l.active == nil || l.currentErr(nil) != nil {
		return nil
	}
	start := l.opts.Clock.Now()
	err := l.active.Sync()
	if l.opts.FsyncObserver != nil {
		l.opts.FsyncObserver(l.opts.Clock.Now().Sub(start))
	}
	if err != nil {
		return fmt.Errorf("fdatasync %s: %w", l.active.Name(), err)
	}
	l.dirty = false
	return nil
}

// fail puts the log into the failed state for good. After a write or fsync
// error the kernel may have dropped the dirty pages, so retrying could
// "succeed" over lost data: the only honest answer is to stop.
func (l *Log) fail(cause error) {
	l.mu.Lock()
	first := l.failErr == nil
	if first {
		l.failErr = failedError(cause)
	}
	l.mu.Unlock()
	if first {
		l.logger.Error("wal: log failed; refusing all further appends", "dir", l.dir, "err", cause)
	}
}

// currentErr returns the fail-stop error if the log has failed, else err.
func (l *Log) currentErr(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failErr != nil {
		return l.failErr
	}
	return err
}

// shutdown is the committer's last act: fsync what was written and close.
func (l *Log) shutdown() {
	var errs []error
	if err := l.syncIfDirty(); err != nil {
		l.fail(err)
	}
	if err := l.currentErr(nil); err != nil {
		errs = append(errs, err)
	}
	if l.active != nil {
		if err := l.active.Close(); err != nil {
			errs = append(errs, fmt.Errorf("wal: close %s: %w", l.active.Name(), err))
		}
		l.active = nil
	}
	l.closeErr = errors.Join(errs...)
}
