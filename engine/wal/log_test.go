package wal

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// appendSome appends n records of seeded-random sizes and returns them.
func appendSome(t testing.TB, l *Log, rng *rand.Rand, n, maxSize int) []entry {
	t.Helper()
	var out []entry
	for range n {
		e := entry{typ: byte(rng.IntN(256)), payload: randomPayload(rng, rng.IntN(maxSize+1))}
		seq, err := l.Append(e.typ, e.payload)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		e.seq = seq
		out = append(out, e)
	}
	return out
}

func TestRoundTripAcrossManySegmentsAndReopen(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 1))
	l := mustOpen(t, dir, testOptions(nil))
	want := appendSome(t, l, rng, 300, 200)
	for i, e := range want {
		if e.seq != uint64(i+1) {
			t.Fatalf("record %d got seq %d", i, e.seq)
		}
	}
	if l.LastSeq() != 300 || l.FirstSeq() != 1 {
		t.Fatalf("LastSeq %d FirstSeq %d", l.LastSeq(), l.FirstSeq())
	}
	sameEntries(t, readAll(t, l), want)
	mustClose(t, l)

	segs := segmentPaths(t, dir)
	if len(segs) < 10 {
		t.Fatalf("only %d segments for ~30 KiB in 4 KiB segments", len(segs))
	}
	for _, p := range segs {
		if fi, _ := os.Stat(p); fi.Size() < 4096 {
			t.Fatalf("segment %s is %d bytes, want preallocated to 4096", p, fi.Size())
		}
	}

	l = mustOpen(t, dir, testOptions(nil))
	sameEntries(t, readAll(t, l), want)
	more := appendSome(t, l, rng, 50, 200)
	if more[0].seq != 301 {
		t.Fatalf("after reopen the sequence continues at %d, want 301", more[0].seq)
	}
	mustClose(t, l)

	l = mustOpen(t, dir, testOptions(nil))
	defer l.Close()
	sameEntries(t, readAll(t, l), append(want, more...))
	rep, err := Verify(nil, dir)
	if err != nil || !rep.OK() || rep.Records != 350 || rep.FirstSeq != 1 || rep.LastSeq != 350 {
		t.Fatalf("Verify: %v %+v", err, rep)
	}
}

func TestReplayFrom(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(2, 2))
	l := mustOpen(t, dir, testOptions(nil))
	defer l.Close()
	want := appendSome(t, l, rng, 200, 150)
	for _, from := range []uint64{1, 2, 57, 199, 200} {
		var got []entry
		if err := l.Replay(from, func(seq uint64, typ byte, p []byte) error {
			got = append(got, entry{seq, typ, bytes.Clone(p)})
			return nil
		}); err != nil {
			t.Fatalf("Replay(%d): %v", from, err)
		}
		sameEntries(t, got, want[from-1:])
	}
	calls := 0
	if err := l.Replay(201, func(uint64, byte, []byte) error { calls++; return nil }); err != nil || calls != 0 {
		t.Fatalf("Replay(last+1): %v, %d calls", err, calls)
	}
	if err := l.Replay(202, func(uint64, byte, []byte) error { return nil }); !errors.Is(err, ErrMissingRecords) {
		t.Fatalf("Replay past the end: %v", err)
	}
	stop := errors.New("stop here")
	err := l.Replay(10, func(seq uint64, _ byte, _ []byte) error {
		if seq == 12 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), "seq 12") {
		t.Fatalf("callback error: %v", err)
	}
}

func TestTruncateBefore(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 3))
	l := mustOpen(t, dir, testOptions(nil))
	want := appendSome(t, l, rng, 200, 200)
	before := segmentPaths(t, dir)

	if err := l.TruncateBefore(100); err != nil {
		t.Fatal(err)
	}
	first := l.FirstSeq()
	if first > 100 || first == 1 {
		t.Fatalf("FirstSeq after TruncateBefore(100) = %d, want in (1, 100]", first)
	}
	after := segmentPaths(t, dir)
	if len(after) >= len(before) {
		t.Fatalf("no segment removed: %d -> %d", len(before), len(after))
	}
	// Exactly the segments wholly below 100 are gone: the next segment after
	// the first survivor starts above 100.
	if len(after) > 1 {
		if s, _ := parseSegmentName(filepath.Base(after[1])); s <= 100 {
			t.Fatalf("segment %s (all < 100 in its predecessor) kept", after[0])
		}
	}
	sameEntries(t, readAll(t, l), want[first-1:])
	if err := l.Replay(1, func(uint64, byte, []byte) error { return nil }); !errors.Is(err, ErrMissingRecords) {
		t.Fatalf("Replay(1) after truncation: %v, want ErrMissingRecords", err)
	}

	// The active segment is never removed, even when everything is older.
	if err := l.TruncateBefore(1 << 40); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentPaths(t, dir)); n != 1 {
		t.Fatalf("%d segments left, want the active one", n)
	}
	first = l.FirstSeq()
	more := appendSome(t, l, rng, 20, 200)
	mustClose(t, l)

	// Reopen starts from the first remaining segment and continues.
	l = mustOpen(t, dir, testOptions(nil))
	defer l.Close()
	if l.FirstSeq() != first || l.LastSeq() != 220 {
		t.Fatalf("reopened: FirstSeq %d LastSeq %d, want %d 220", l.FirstSeq(), l.LastSeq(), first)
	}
	sameEntries(t, readAll(t, l), append(want[first-1:], more...))
}

func TestFirstSeqForEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(nil)
	o.FirstSeq = 1000
	l := mustOpen(t, dir, o)
	if l.LastSeq() != 999 || l.FirstSeq() != 1000 {
		t.Fatalf("empty log: LastSeq %d FirstSeq %d", l.LastSeq(), l.FirstSeq())
	}
	if seq, err := l.Append(1, []byte("x")); err != nil || seq != 1000 {
		t.Fatalf("first append: %d %v", seq, err)
	}
	mustClose(t, l)
	if _, err := os.Stat(filepath.Join(dir, "00000000000003e8.wal")); err != nil {
		t.Fatalf("segment not named after its first seq: %v", err)
	}
	o.FirstSeq = 5 // ignored: the directory has segments
	l = mustOpen(t, dir, o)
	defer l.Close()
	if seq, err := l.Append(1, []byte("y")); err != nil || seq != 1001 {
		t.Fatalf("append after reopen: %d %v", seq, err)
	}
}

func TestOversizedRecordsAndLimits(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentSize: 1024, MaxRecordSize: 4096}
	l := mustOpen(t, dir, o)
	rng := rand.New(rand.NewPCG(4, 4))
	var want []entry
	add := func(n int) {
		e := entry{typ: 9, payload: randomPayload(rng, n)}
		seq, err := l.Append(e.typ, e.payload)
		if err != nil {
			t.Fatalf("Append(%d bytes): %v", n, err)
		}
		e.seq = seq
		want = append(want, e)
	}
	add(100)
	add(3000) // bigger than a segment: gets a segment of its own
	add(100)
	add(4096) // exactly the limit
	if _, err := l.Append(1, make([]byte, 4097)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := l.AppendBatch([]Record{{1, make([]byte, 600)}, {1, make([]byte, 600)}}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("batch bigger than a segment: %v", err)
	}
	if seq, err := l.AppendBatch([]Record{{2, want[1].payload}}); err != nil {
		t.Fatalf("single-record batch bigger than a segment: %v", err)
	} else {
		want = append(want, entry{seq, 2, want[1].payload})
	}
	if _, err := l.AppendBatch(nil); err == nil {
		t.Fatal("empty batch accepted")
	}
	if l.Err() != nil {
		t.Fatalf("refused records failed the log: %v", l.Err())
	}
	mustClose(t, l)
	segs := segmentPaths(t, dir)
	if len(segs) != 5 {
		t.Fatalf("%d segments, want 5 (100 | 3000 | 100 | 4096 | 3000)", len(segs))
	}
	l = mustOpen(t, dir, o)
	defer l.Close()
	sameEntries(t, readAll(t, l), want)
}

func TestAppendBatchIsContiguous(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, testOptions(nil))
	rng := rand.New(rand.NewPCG(5, 5))
	var want []entry
	for range 40 {
		n := 1 + rng.IntN(6)
		recs := make([]Record, n)
		for i := range recs {
			recs[i] = Record{Type: byte(i), Payload: randomPayload(rng, rng.IntN(300))}
		}
		last, err := l.AppendBatch(recs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			want = append(want, entry{last - uint64(n-1-i), r.Type, r.Payload})
		}
	}
	sameEntries(t, readAll(t, l), want)
	mustClose(t, l)
	// Batches never straddle segments.
	rep, err := Verify(nil, dir)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify: %v %v", err, rep.Problems)
	}
	l = mustOpen(t, dir, testOptions(nil))
	defer l.Close()
	sameEntries(t, readAll(t, l), want)
}

func TestClosedLog(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOptions(nil))
	mustClose(t, l)
	if _, err := l.Append(1, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, err := l.AppendBatch([]Record{{1, nil}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("AppendBatch after Close: %v", err)
	}
	if err := l.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{SegmentSize: 100},
		{MaxRecordSize: MaxRecordSizeLimit + 1},
		{MaxRecordSize: -1},
		{Sync: SyncPolicy(9)},
		{Sync: SyncInterval, SyncInterval: -1},
	} {
		if _, err := Open(t.TempDir(), o); err == nil {
			t.Errorf("Open accepted %+v", o)
		}
	}
	for s, want := range map[string]SyncPolicy{"always": SyncAlways, "Interval": SyncInterval, " none ": SyncNone} {
		if got, err := ParseSyncPolicy(s); err != nil || got != want {
			t.Errorf("ParseSyncPolicy(%q) = %v, %v", s, got, err)
		}
		if got, _ := ParseSyncPolicy(want.String()); got != want {
			t.Errorf("String/Parse round trip of %v", want)
		}
	}
	if _, err := ParseSyncPolicy("sometimes"); err == nil {
		t.Error("ParseSyncPolicy accepted nonsense")
	}
}

func TestOpenRemovesUnfinishedSegment(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, testOptions(nil))
	if _, err := l.Append(1, []byte("a")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	tmp := filepath.Join(dir, segmentName(2)+tmpSuffix)
	writeFile(t, tmp, encodeSegmentHeader(2)[:10])
	rep, err := Verify(nil, dir)
	if err != nil || !rep.OK() || len(rep.Unfinished) != 1 {
		t.Fatalf("Verify: %v %+v", err, rep)
	}
	l = mustOpen(t, dir, testOptions(nil))
	defer l.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover %s not removed: %v", tmp, err)
	}
	if seq, err := l.Append(1, []byte("b")); err != nil || seq != 2 {
		t.Fatalf("append: %d %v", seq, err)
	}
}

// TestSegmentsStartSmallAndGrow: a new log's first segment is allocated at
// InitialSegmentSize and doubles as records fill it, up to SegmentSize; the
// segment the log rolls to starts at the size the last one reached; Size
// is the files' lengths; and everything after the last record stays zero
// through the growth, so the log reopens to the same records.
func TestSegmentsStartSmallAndGrow(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	o := testOptions(nil)
	o.SegmentSize, o.InitialSegmentSize = 16<<10, 1<<10
	l := mustOpen(t, dir, o)
	sizes := func() []int64 {
		var out []int64
		for _, p := range segmentPaths(t, dir) {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fi.Size())
		}
		return out
	}
	if got := sizes(); len(got) != 1 || got[0] != 1<<10 {
		t.Fatalf("a new log's segments: %v bytes, want one of %d", got, 1<<10)
	}
	var want []entry
	seen := map[int64]bool{}
	for len(segmentPaths(t, dir)) < 2 {
		want = append(want, appendSome(t, l, rng, 1, 300)...)
		seen[sizes()[0]] = true
	}
	for _, s := range []int64{1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10} {
		if !seen[s] {
			t.Fatalf("the first segment went through sizes %v, not doubling from 1 KiB to 16 KiB", seen)
		}
	}
	got := sizes()
	if got[1] != 16<<10 {
		t.Fatalf("the segment rolled to is %d bytes, want the 16 KiB its predecessor reached", got[1])
	}
	if l.Size() != got[0]+got[1] {
		t.Fatalf("Size() = %d, the files hold %d", l.Size(), got[0]+got[1])
	}
	mustClose(t, l)
	l = mustOpen(t, dir, o)
	defer l.Close()
	sameEntries(t, readAll(t, l), want)
	if rep, err := Verify(nil, dir); err != nil || !rep.OK() {
		t.Fatalf("Verify: %v %+v", err, rep)
	}
}

// TestGrowthFor: what an append would add to the log's files, before it
// happens: nothing while it fits in the allocated space, then the
// doubling, then (at SegmentSize) the next segment.
func TestGrowthFor(t *testing.T) {
	o := testOptions(nil)
	o.SegmentSize, o.InitialSegmentSize = 4<<10, 1<<10
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	if g := l.GrowthFor(100); g != 0 {
		t.Fatalf("a small record in a new 1 KiB segment grows it by %d", g)
	}
	if g := l.GrowthFor(1000); g != 1<<10 {
		t.Fatalf("a record past 1 KiB: growth %d, want the doubling (1 KiB)", g)
	}
	for l.Size() < 4<<10 {
		before := l.Size()
		g := l.GrowthFor(300)
		if _, err := l.Append(1, make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
		if l.Size()-before != g {
			t.Fatalf("GrowthFor said %d, the append grew the log by %d", g, l.Size()-before)
		}
	}
	for l.GrowthFor(300) == 0 {
		if _, err := l.Append(1, make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
	}
	before := l.Size()
	if g := l.GrowthFor(300); g != 4<<10 {
		t.Fatalf("at SegmentSize: growth %d, want a new 4 KiB segment", g)
	}
	if _, err := l.Append(1, make([]byte, 300)); err != nil || l.Size()-before != 4<<10 {
		t.Fatalf("the roll grew the log by %d (%v)", l.Size()-before, err)
	}
}

// TestBytes: Bytes is the header and framed records of the live segments,
// the same after a reopen (which scans the files), and shrinks when
// segments are truncated.
func TestBytes(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, testOptions(nil))
	if got := l.Bytes(); got != segmentHeaderSize {
		t.Fatalf("empty log: Bytes %d, want the header's %d", got, segmentHeaderSize)
	}
	if _, err := l.Append(1, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if got, want := l.Bytes(), int64(segmentHeaderSize+recordHeaderSize+100); got != want {
		t.Fatalf("one 100-byte record: Bytes %d, want %d", got, want)
	}
	appendSome(t, l, rand.New(rand.NewPCG(5, 5)), 200, 200)
	full := l.Bytes()
	if n := len(segmentPaths(t, dir)); n < 3 {
		t.Fatalf("%d segments; the test wants several", n)
	}
	mustClose(t, l)
	l = mustOpen(t, dir, testOptions(nil))
	defer l.Close()
	if got := l.Bytes(); got != full {
		t.Fatalf("reopened: Bytes %d, want %d", got, full)
	}
	if err := l.TruncateBefore(l.LastSeq()); err != nil {
		t.Fatal(err)
	}
	if got := l.Bytes(); got >= full || got <= segmentHeaderSize {
		t.Fatalf("after truncation: Bytes %d, want less than %d and more than a header", got, full)
	}
}
