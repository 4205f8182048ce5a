package wal

import (
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"
)

// trackFS records, for every segment file, which sequence numbers have been
// written and which a completed Sync has made durable, by decoding the
// frames the log writes. Optionally the next segment Sync blocks until
// released.
type trackFS struct {
	FS
	mu       sync.Mutex
	pending  map[string][]uint64 // written since the file's last sync
	durable  map[uint64]bool
	syncs    int           // completed syncs of segment files
	block    bool          // the next segment Sync waits for release
	entered  chan struct{} // receives when a Sync starts blocking
	released chan struct{}
}

func newTrackFS() *trackFS {
	return &trackFS{FS: OSFS{}, pending: map[string][]uint64{}, durable: map[uint64]bool{},
		entered: make(chan struct{}, 1), released: make(chan struct{})}
}

func (f *trackFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &trackFile{File: file, fs: f, name: name}, nil
}

func (f *trackFS) isDurable(seq uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.durable[seq]
}

func (f *trackFS) syncCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs
}

type trackFile struct {
	File
	fs   *trackFS
	name string
}

func (f *trackFile) WriteAt(b []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(b, off)
	if strings.HasSuffix(f.name, segmentExt) && off >= segmentHeaderSize {
		var seqs []uint64
		for rest := b[:n]; len(rest) > 0; {
			rec, need, derr := decodeRecord(rest, MaxRecordSizeLimit)
			if derr != nil {
				break
			}
			seqs = append(seqs, rec.seq)
			rest = rest[need:]
		}
		f.fs.mu.Lock()
		f.fs.pending[f.name] = append(f.fs.pending[f.name], seqs...)
		f.fs.mu.Unlock()
	}
	return n, err
}

func (f *trackFile) Sync() error {
	if !strings.HasSuffix(f.name, segmentExt) {
		return f.File.Sync()
	}
	f.fs.mu.Lock()
	written := f.fs.pending[f.name] // what this sync covers
	f.fs.pending[f.name] = nil
	block := f.fs.block
	f.fs.block = false
	f.fs.mu.Unlock()
	if block {
		f.fs.entered <- struct{}{}
		<-f.fs.released
	}
	err := f.File.Sync()
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err == nil {
		f.fs.syncs++
		for _, s := range written {
			f.fs.durable[s] = true
		}
	}
	return err
}

// TestGroupCommitBatchesWhileFsyncRuns: appends that arrive while an fsync
// is in progress all go out in the next write and share the next fsync.
func TestGroupCommitBatchesWhileFsyncRuns(t *testing.T) {
	tfs := newTrackFS()
	l := mustOpen(t, t.TempDir(), Options{FS: tfs})
	defer l.Close()
	base := tfs.syncCount()

	tfs.mu.Lock()
	tfs.block = true
	tfs.mu.Unlock()
	firstDone := make(chan error, 1)
	go func() {
		_, err := l.Append(1, []byte("first"))
		firstDone <- err
	}()
	<-tfs.entered // the committer is inside the first fsync

	const n = 16
	var wg sync.WaitGroup
	returned := make(chan uint64, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq, err := l.Append(2, []byte(fmt.Sprint("follower ", i)))
			if err != nil {
				t.Errorf("Append: %v", err)
			}
			if !tfs.isDurable(seq) {
				t.Errorf("Append of seq %d returned before an fsync covered it", seq)
			}
			returned <- seq
		}()
	}
	waitFor(t, "all followers queued", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.units) == n
	})
	select {
	case err := <-firstDone:
		t.Fatalf("first Append returned (%v) before its fsync finished", err)
	case <-returned:
		t.Fatal("a follower returned before any fsync finished")
	default:
	}
	close(tfs.released)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := tfs.syncCount() - base; got != 2 {
		t.Fatalf("%d fsyncs for 1+%d appends, want 2 (one per group)", got, n)
	}
}

// TestGroupCommitConcurrentAppenders: many writers, fewer fsyncs than
// appends, and every acknowledged record durable when acknowledged.
func TestGroupCommitConcurrentAppenders(t *testing.T) {
	tfs := newTrackFS()
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{FS: tfs, SegmentSize: 64 << 10})
	const writers, each = 8, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := make([]byte, 2048)
			for i := range each {
				payload[0], payload[1] = byte(w), byte(i)
				seq, err := l.Append(byte(w), payload)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				if !tfs.isDurable(seq) {
					t.Errorf("seq %d acknowledged before it was fsynced", seq)
				}
			}
		}()
	}
	wg.Wait()
	mustClose(t, l)
	syncs := tfs.syncCount()
	t.Logf("%d appends, %d fsyncs", writers*each, syncs)
	if syncs >= writers*each {
		t.Fatalf("%d fsyncs for %d appends: no batching", syncs, writers*each)
	}
	l = mustOpen(t, dir, Options{SegmentSize: 64 << 10})
	defer l.Close()
	if got := len(readAll(t, l)); got != writers*each {
		t.Fatalf("%d records after reopen, want %d", got, writers*each)
	}
}

func TestSyncInterval(t *testing.T) {
	tfs := newTrackFS()
	clock := newFakeClock()
	var observed []time.Duration
	var obsMu sync.Mutex
	l := mustOpen(t, t.TempDir(), Options{FS: tfs, Sync: SyncInterval, SyncInterval: 250 * time.Millisecond, Clock: clock,
		FsyncObserver: func(d time.Duration) { obsMu.Lock(); observed = append(observed, d); obsMu.Unlock() }})
	defer l.Close()
	if clock.period != 250*time.Millisecond {
		t.Fatalf("ticker period %v", clock.period)
	}
	base := tfs.syncCount()
	var last uint64
	for i := range 10 {
		seq, err := l.Append(1, []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	if tfs.syncCount() != base || tfs.isDurable(last) {
		t.Fatal("SyncInterval fsynced on Append")
	}
	clock.tick()
	waitFor(t, "the interval fsync", func() bool { return tfs.syncCount() == base+1 })
	if !tfs.isDurable(last) {
		t.Fatal("the interval fsync did not cover the appended records")
	}
	clock.tick()                                // nothing written since: no fsync
	if _, err := l.Append(1, nil); err != nil { // the committer has handled the tick once this returns
		t.Fatal(err)
	}
	if got := tfs.syncCount(); got != base+1 {
		t.Fatalf("an idle tick fsynced (%d syncs)", got-base)
	}
	obsMu.Lock()
	defer obsMu.Unlock()
	if len(observed) != 1 || observed[0] != time.Millisecond {
		t.Fatalf("FsyncObserver saw %v, want one 1ms fsync", observed)
	}
}

func TestSyncNone(t *testing.T) {
	tfs := newTrackFS()
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{FS: tfs, Sync: SyncNone})
	base := tfs.syncCount()
	var last uint64
	for i := range 20 {
		seq, err := l.Append(1, []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	if tfs.syncCount() != base {
		t.Fatal("SyncNone fsynced on Append")
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if !tfs.isDurable(last) || tfs.syncCount() != base+1 {
		t.Fatal("Sync did not fsync what was written")
	}
	if _, err := l.Append(1, []byte("tail")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	if !tfs.isDurable(last + 1) {
		t.Fatal("Close did not fsync")
	}
}

// TestRollFsyncsUnderEveryPolicy: a finished segment is always fsynced
// before the next one is started, so only the last can hold a torn write.
func TestRollFsyncsUnderEveryPolicy(t *testing.T) {
	for _, p := range []SyncPolicy{SyncNone, SyncInterval} {
		tfs := newTrackFS()
		l := mustOpen(t, t.TempDir(), Options{FS: tfs, Sync: p, SegmentSize: 1024, Clock: newFakeClock()})
		var seqs []uint64
		for range 30 {
			seq, err := l.Append(1, make([]byte, 100))
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, seq)
		}
		l.mu.Lock()
		secondSeg := l.segs[len(l.segs)-1].firstSeq
		l.mu.Unlock()
		for _, s := range seqs {
			if s < secondSeg && !tfs.isDurable(s) {
				t.Fatalf("%v: seq %d in a finished segment was never fsynced", p, s)
			}
		}
		mustClose(t, l)
	}
}
