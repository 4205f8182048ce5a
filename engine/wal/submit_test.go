package wal

import (
	"errors"
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
