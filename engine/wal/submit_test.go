package wal

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestSubmitCommitsWithoutWaiting: a Submit is written and fsynced without
// anyone calling Wait (so its fsync overlaps the caller's work), and Wait
// then returns at once with the outcome. Without a Writers count the
// commit delay holds nothing.
func TestSubmitCommitsWithoutWaiting(t *testing.T) {
	tfs := newTrackFS()
	l := mustOpen(t, t.TempDir(), Options{FS: tfs, CommitDelay: time.Hour, Clock: newFakeClock()})
	defer l.Close()
	seq, p, err := l.Submit(1, []byte("alone"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the record to be durable without Wait", func() bool { return tfs.isDurable(seq) })
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := l.LastSeq(); got != seq {
		t.Fatalf("LastSeq = %d, want %d", got, seq)
	}
}

// TestCommitDelayExpires: a held group goes out once the delay passes,
// although the writers it waits for never come.
func TestCommitDelayExpires(t *testing.T) {
	tfs := newTrackFS()
	l := mustOpen(t, t.TempDir(), Options{FS: tfs, CommitDelay: time.Millisecond, Writers: func() int { return 100 }})
	defer l.Close()
	var seqs []uint64
	var ps []Pending
	for range 3 {
		s, p, err := l.Submit(1, []byte("busy"))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
		ps = append(ps, p)
	}
	waitFor(t, "the held records to be committed after the delay", func() bool {
		return tfs.isDurable(seqs[len(seqs)-1])
	})
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSubmitErrors: a record that is too large or a closed log fails
// Submit; a failed fsync fails the Wait of every record it covered.
func TestSubmitErrors(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{MaxRecordSize: 8})
	if _, _, err := l.Submit(1, make([]byte, 9)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Submit of 9 bytes with limit 8: %v, want ErrTooLarge", err)
	}
	mustClose(t, l)
	if _, _, err := l.Submit(1, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v, want ErrClosed", err)
	}

	ffs := NewFaultFS(OSFS{})
	l = mustOpen(t, t.TempDir(), Options{FS: ffs})
	ffs.AddRule(Rule{Op: OpSync, Err: errors.New("injected EIO")})
	_, p, err := l.Submit(1, []byte("doomed"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err == nil || !errors.Is(err, ErrFailed) {
		t.Fatalf("Wait after a failed fsync: %v, want ErrFailed", err)
	}
	if _, _, err := l.Submit(1, []byte("after")); !errors.Is(err, ErrFailed) {
		t.Fatalf("Submit after fail-stop: %v, want ErrFailed", err)
	}
	_ = l.Close()
}

func TestNegativeCommitDelayRefused(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{CommitDelay: -time.Millisecond}); err == nil {
		t.Fatal("Open accepted a negative commit delay")
	}
}

// TestCommitDelayWaitsForEveryWriter: with a Writers count, a group is held
// until it has a record from every writer (the fake clock's delay never
// expires), and a lone writer is not held at all.
func TestCommitDelayWaitsForEveryWriter(t *testing.T) {
	tfs := newTrackFS()
	var writers atomic.Int64
	l := mustOpen(t, t.TempDir(), Options{FS: tfs, CommitDelay: time.Hour, Clock: newFakeClock(),
		Writers: func() int { return int(writers.Load()) }})
	defer l.Close()

	writers.Store(1)
	seq, p, err := l.Submit(1, []byte("alone"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a lone writer's record to be committed", func() bool { return tfs.isDurable(seq) })
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}

	writers.Store(3)
	base := tfs.syncCount()
	var seqs []uint64
	errs := make(chan error, 3)
	for i := range 3 {
		s, p, err := l.Submit(1, []byte("member"))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
		go func() { errs <- p.Wait() }()
		if i < 2 {
			waitFor(t, "the committer to hold the incomplete group", func() bool {
				l.mu.Lock()
				defer l.mu.Unlock()
				return l.group != nil && l.group.calls == i+1 && l.holdLocked() > 0
			})
			if tfs.isDurable(s) {
				t.Fatalf("record %d of 3 was committed before the third writer joined", i+1)
			}
		}
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range seqs {
		if !tfs.isDurable(s) {
			t.Fatalf("seq %d not durable after its Wait", s)
		}
	}
	if got := tfs.syncCount() - base; got != 1 {
		t.Fatalf("%d fsyncs for a group of three, want 1", got)
	}
}

// frameOf builds a SubmitFrame buffer holding payload.
func frameOf(payload []byte) []byte {
	return append(make([]byte, FrameHeaderSize, FrameHeaderSize+len(payload)), payload...)
}

// TestSubmitFrame: records built in place (small ones, copied into the
// shared buffer, and large ones, written from their own frame, one larger
// than a segment) go out in one commit group among copied records, in
// sequence order, roll segments as copied ones do, and read back the same
// after a reopen. A large frame is not copied.
func TestSubmitFrame(t *testing.T) {
	dir := t.TempDir()
	var writers atomic.Int64
	o := Options{SegmentSize: 256 << 10, InitialSegmentSize: 64 << 10, MaxRecordSize: 1 << 20, CommitDelay: time.Hour,
		Clock: newFakeClock(), Writers: func() int { return int(writers.Load()) }}
	l := mustOpen(t, dir, o)
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{10, 100 << 10, 20, 30 << 10, 300 << 10, 70 << 10, 5}
	writers.Store(int64(len(sizes)))
	var want []entry
	var ps []Pending
	for i, n := range sizes {
		payload := randomPayload(rng, n)
		var seq uint64
		var p Pending
		var err error
		if i%3 == 0 {
			seq, p, err = l.Submit(byte(i+1), payload)
		} else {
			seq, p, err = l.SubmitFrame(byte(i+1), frameOf(payload))
		}
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, entry{seq, byte(i + 1), payload})
		ps = append(ps, p)
	}
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	sameEntries(t, readAll(t, l), want)

	// A large frame is written from where it was built (into a segment
	// with room for it, so that growing the segment allocates nothing).
	writers.Store(0)
	frame := frameOf(randomPayload(rng, 512<<10))
	seq, p, err := l.SubmitFrame(9, frame)
	if err == nil {
		err = p.Wait()
	}
	if err != nil {
		t.Fatal(err)
	}
	spacious := mustOpen(t, t.TempDir(), Options{SegmentSize: 2 << 20, InitialSegmentSize: 2 << 20, MaxRecordSize: 1 << 20})
	defer spacious.Close()
	if _, err := spacious.Append(1, []byte("small")); err != nil {
		t.Fatal(err)
	}
	big := frameOf(frame[FrameHeaderSize:])
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	_, p, err = spacious.SubmitFrame(9, big)
	if err == nil {
		err = p.Wait()
	}
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	if got := ms.TotalAlloc - before; got > uint64(len(big))/8 {
		t.Fatalf("SubmitFrame of a %d-byte frame allocated %d bytes: it was copied", len(big), got)
	}
	want = append(want, entry{seq, 9, frame[FrameHeaderSize:]})
	mustClose(t, l)
	if segs := segmentPaths(t, dir); len(segs) < 3 {
		t.Fatalf("%d segments for %d KiB of records in 256 KiB segments, want a roll", len(segs), 1100)
	}
	l = mustOpen(t, dir, o)
	defer l.Close()
	sameEntries(t, readAll(t, l), want)

	if _, _, err := l.SubmitFrame(1, make([]byte, FrameHeaderSize-1)); err == nil {
		t.Fatal("SubmitFrame accepted a frame with no room for the header")
	}
	if _, _, err := l.SubmitFrame(1, make([]byte, FrameHeaderSize+(1<<20)+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("SubmitFrame past MaxRecordSize: %v, want ErrTooLarge", err)
	}
}
