package wal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// oneSegmentLog writes n single records into one segment and returns the
// closed segment's path, the records and each record's start offset (plus
// the end of the last one).
func oneSegmentLog(t *testing.T, dir string, n int, seed uint64) (string, []entry, []int64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	l := mustOpen(t, dir, Options{SegmentSize: 64 << 10})
	want := appendSome(t, l, rng, n, 60)
	mustClose(t, l)
	offs := []int64{segmentHeaderSize}
	for _, e := range want {
		offs = append(offs, offs[len(offs)-1]+int64(frameSize(len(e.payload))))
	}
	segs := segmentPaths(t, dir)
	if len(segs) != 1 {
		t.Fatalf("%d segments", len(segs))
	}
	return segs[0], want, offs
}

func trimZeros(b []byte) []byte { return b[:lastNonZeroIndex(b)+1] }

// TestTornTailEveryOffset cuts the last segment at every byte of its last
// three records, both by truncating the file and by zeroing from the cut on
// (what an unfinished write leaves in preallocated space). Open must recover
// exactly the whole records before the cut, keep the cut bytes as .broken,
// warn, and take appends afterwards.
func TestTornTailEveryOffset(t *testing.T) {
	base := t.TempDir()
	seg, want, offs := oneSegmentLog(t, filepath.Join(base, "orig"), 12, 7)
	orig := readFile(t, seg)
	n := len(want)
	from, to := offs[n-3], offs[n]
	for _, variant := range []string{"truncate", "zero-fill"} {
		for cut := from; cut <= to; cut++ {
			name := fmt.Sprintf("%s-%d", variant, cut)
			dir := filepath.Join(base, name)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, filepath.Base(seg))
			damaged := bytes.Clone(orig)
			if variant == "truncate" {
				damaged = damaged[:cut]
			} else {
				clear(damaged[cut:])
			}
			writeFile(t, path, damaged)

			whole := 0 // records entirely before the cut
			for whole < n && offs[whole+1] <= cut {
				whole++
			}
			lost := trimZeros(orig[offs[whole]:cut])

			var logs logCapture
			o := Options{SegmentSize: 64 << 10, Logger: logs.logger()}
			l, err := Open(dir, o)
			if err != nil {
				t.Fatalf("%s: Open: %v", name, err)
			}
			if got := l.LastSeq(); got != uint64(whole) {
				t.Fatalf("%s: recovered to seq %d, want %d", name, got, whole)
			}
			broken := filesWith(t, dir, brokenSuffix)
			if len(lost) == 0 {
				if len(broken) != 0 || strings.Contains(logs.String(), "torn") {
					t.Fatalf("%s: clean end treated as torn: %v %s", name, broken, logs.String())
				}
			} else {
				if len(broken) != 1 || !bytes.Equal(readFile(t, broken[0]), lost) {
					t.Fatalf("%s: evidence files %v, want one holding %d bytes", name, broken, len(lost))
				}
				if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "torn tail") {
					t.Fatalf("%s: no warning logged: %s", name, logs.String())
				}
			}
			extra := entry{typ: 1, payload: []byte("after recovery")}
			seq, err := l.Append(extra.typ, extra.payload)
			if err != nil || seq != uint64(whole+1) {
				t.Fatalf("%s: append after recovery: seq %d err %v", name, seq, err)
			}
			extra.seq = seq
			mustClose(t, l)
			l = mustOpen(t, dir, o)
			sameEntries(t, readAll(t, l), append(bytes2entries(want[:whole]), extra))
			mustClose(t, l)
			if rep, err := Verify(nil, dir); err != nil || !rep.OK() {
				t.Fatalf("%s: Verify after recovery: %v %v", name, err, rep.Problems)
			}
			os.RemoveAll(dir)
		}
	}
}

func bytes2entries(es []entry) []entry { return append([]entry(nil), es...) }

// TestTornBatchIsDroppedWhole: a batch whose last record never reached the
// disk is cut as a whole, even where its first records are intact.
func TestTornBatchIsDroppedWhole(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(8, 8))
	l := mustOpen(t, dir, Options{SegmentSize: 64 << 10})
	want := appendSome(t, l, rng, 5, 50)
	recs := []Record{{1, randomPayload(rng, 40)}, {2, randomPayload(rng, 40)}, {3, randomPayload(rng, 40)}}
	if _, err := l.AppendBatch(recs); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	seg := segmentPaths(t, dir)[0]
	orig := readFile(t, seg)
	batchStart := int64(segmentHeaderSize)
	for _, e := range want {
		batchStart += int64(frameSize(len(e.payload)))
	}
	rec := int64(frameSize(40))
	for _, cut := range []int64{batchStart + rec, batchStart + 2*rec, batchStart + 2*rec + 7} {
		damaged := bytes.Clone(orig)
		clear(damaged[cut:])
		writeFile(t, seg, damaged)
		for _, p := range filesWith(t, dir, brokenSuffix) {
			os.Remove(p)
		}
		rep, err := Verify(nil, dir)
		if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != TornTail || rep.Problems[0].Offset != batchStart {
			t.Fatalf("cut %d: Verify: %v %v", cut, err, rep.Problems)
		}
		l := mustOpen(t, dir, Options{SegmentSize: 64 << 10})
		if l.LastSeq() != 5 {
			t.Fatalf("cut %d: LastSeq %d, want 5 (the batch dropped whole)", cut, l.LastSeq())
		}
		sameEntries(t, readAll(t, l), want)
		mustClose(t, l)
		broken := filesWith(t, dir, brokenSuffix)
		if len(broken) != 1 || !bytes.Equal(readFile(t, broken[0]), trimZeros(orig[batchStart:cut])) {
			t.Fatalf("cut %d: evidence %v", cut, broken)
		}
	}
}

// TestZeroedSectorThenValidRecordsIsTorn: an unfinished write can leave a
// later page on disk and an earlier one not (zeros). In the last segment
// that is a torn tail, not corruption, even though valid records follow;
// the same damage with non-zero garbage is corruption.
func TestZeroedSectorThenValidRecordsIsTorn(t *testing.T) {
	for _, fill := range []byte{0, 0x5a} {
		dir := t.TempDir()
		seg, want, offs := oneSegmentLog(t, dir, 60, 9) // ~2.6 KiB of records
		orig := readFile(t, seg)
		// Damage the aligned sector [1024, 1536) and find the first record
		// it touches.
		damaged := bytes.Clone(orig)
		for i := 1024; i < 1536; i++ {
			damaged[i] = fill
		}
		writeFile(t, seg, damaged)
		first := 0
		for offs[first+1] <= 1024 {
			first++
		}
		if offs[len(offs)-1] <= 1536+100 {
			t.Fatal("test needs valid records after the damaged sector")
		}
		l, err := Open(dir, Options{SegmentSize: 64 << 10})
		if fill == 0 {
			if err != nil {
				t.Fatalf("zeroed sector: Open: %v", err)
			}
			if l.LastSeq() != uint64(first) {
				t.Fatalf("zeroed sector: LastSeq %d, want %d", l.LastSeq(), first)
			}
			sameEntries(t, readAll(t, l), want[:first])
			mustClose(t, l)
			broken := filesWith(t, dir, brokenSuffix)
			if len(broken) != 1 || !bytes.Equal(readFile(t, broken[0]), trimZeros(damaged[offs[first]:])) {
				t.Fatalf("evidence %v does not hold everything after the cut", broken)
			}
			continue
		}
		ce, ok := isCorruption(err)
		if !ok || ce.Offset != offs[first] || ce.Segment != seg {
			t.Fatalf("garbage sector: Open error %v, want corruption at %d", err, offs[first])
		}
	}
}

// TestUnwrittenPartialSectorIsTorn: an unfinished write that began in the
// middle of a sector, where that sector never reached the disk but a later
// one did, leaves zeros from the old end of data to the sector boundary and
// valid records after. That is a torn tail too.
func TestUnwrittenPartialSectorIsTorn(t *testing.T) {
	dir := t.TempDir()
	seg, want, offs := oneSegmentLog(t, dir, 60, 13)
	orig := readFile(t, seg)
	// The first record boundary past 1024 at least 8 bytes short of a
	// sector boundary.
	k := 0
	for offs[k] <= 1024 || sectorSize-offs[k]%sectorSize < 8 {
		k++
	}
	boundary := (offs[k]/sectorSize + 1) * sectorSize
	if offs[len(offs)-1] < boundary+200 {
		t.Fatal("test needs valid records after the sector")
	}
	damaged := bytes.Clone(orig)
	clear(damaged[offs[k]:boundary])
	writeFile(t, seg, damaged)
	l, err := Open(dir, Options{SegmentSize: 64 << 10})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l.Close()
	if l.LastSeq() != uint64(k) {
		t.Fatalf("LastSeq %d, want %d", l.LastSeq(), k)
	}
	sameEntries(t, readAll(t, l), want[:k])

	// The same zeros not reaching the sector boundary are corruption.
	dir2 := t.TempDir()
	damaged = bytes.Clone(orig)
	clear(damaged[offs[k] : offs[k]+4])
	writeFile(t, filepath.Join(dir2, filepath.Base(seg)), damaged)
	if _, err := Open(dir2, Options{SegmentSize: 64 << 10}); err == nil {
		t.Fatal("a zeroed length field with data after it up to the sector end was accepted as torn")
	} else if _, ok := isCorruption(err); !ok {
		t.Fatalf("Open: %v", err)
	}
}

// TestCorruptionInTheMiddle flips every byte of a record that has valid
// records after it: Open must refuse with a *CorruptionError naming the file
// and offset and change nothing; Verify must report it; Repair must make the
// log open with the records before it, keeping the evidence.
func TestCorruptionInTheMiddle(t *testing.T) {
	base := t.TempDir()
	seg, want, offs := oneSegmentLog(t, filepath.Join(base, "orig"), 12, 11)
	orig := readFile(t, seg)
	const victim = 6 // 0-based: records 1..6 survive a repair
	for off := offs[victim]; off < offs[victim+1]; off++ {
		dir := filepath.Join(base, fmt.Sprint(off))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Base(seg))
		damaged := bytes.Clone(orig)
		damaged[off] ^= 0xff
		writeFile(t, path, damaged)

		_, err := Open(dir, Options{SegmentSize: 64 << 10})
		ce, ok := isCorruption(err)
		if !ok {
			t.Fatalf("flip at %d: Open error %v, want *CorruptionError", off, err)
		}
		if ce.Segment != path || ce.Offset != offs[victim] {
			t.Fatalf("flip at %d: error names %s offset %d, want %s offset %d", off, ce.Segment, ce.Offset, path, offs[victim])
		}
		if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, fmt.Sprintf("offset %d", offs[victim])) {
			t.Fatalf("message %q lacks file or offset", msg)
		}
		if !bytes.Equal(readFile(t, path), damaged) || len(filesWith(t, dir, ".")) != 1 {
			t.Fatalf("flip at %d: a failed Open modified the directory", off)
		}

		rep, err := Verify(nil, dir)
		if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != Corruption || rep.Problems[0].Offset != offs[victim] || !rep.NeedsRepair() {
			t.Fatalf("flip at %d: Verify: %v %v", off, err, rep.Problems)
		}
		if rep.Records != len(want)-1 {
			t.Fatalf("flip at %d: Verify read %d records past the damage, want %d", off, rep.Records, len(want)-1)
		}

		var logs logCapture
		rr, err := Repair(nil, dir, logs.logger())
		if err != nil {
			t.Fatalf("flip at %d: Repair: %v", off, err)
		}
		if rr.LastSeq != victim || len(rr.Cut) != 1 || len(rr.Found) != 1 {
			t.Fatalf("flip at %d: repair report %+v", off, rr)
		}
		if ev := readFile(t, rr.Cut[0].SavedAs); !bytes.Equal(ev, trimZeros(damaged)) {
			t.Fatalf("flip at %d: the .corrupt copy is not the whole damaged segment", off)
		}
		if !strings.Contains(logs.String(), "level=WARN") {
			t.Fatalf("Repair did not warn: %s", logs.String())
		}
		l := mustOpen(t, dir, Options{SegmentSize: 64 << 10})
		sameEntries(t, readAll(t, l), want[:victim])
		if seq, err := l.Append(1, []byte("x")); err != nil || seq != victim+1 {
			t.Fatalf("append after repair: %d %v", seq, err)
		}
		mustClose(t, l)
		os.RemoveAll(dir)
	}
}

// multiSegmentLog writes records over several 4 KiB segments.
func multiSegmentLog(t *testing.T, dir string) ([]string, []entry) {
	t.Helper()
	rng := rand.New(rand.NewPCG(12, 12))
	l := mustOpen(t, dir, testOptions(nil))
	want := appendSome(t, l, rng, 200, 200)
	mustClose(t, l)
	segs := segmentPaths(t, dir)
	if len(segs) < 4 {
		t.Fatalf("only %d segments", len(segs))
	}
	return segs, want
}

func firstSeqOf(t *testing.T, path string) uint64 {
	s, ok := parseSegmentName(filepath.Base(path))
	if !ok {
		t.Fatalf("bad segment name %s", path)
	}
	return s
}

// TestDamageInEarlierSegmentIsCorruption: in a segment that is not the last,
// even a cut-off tail is corruption (segments are fsynced before the log
// moves on). Verify keeps going and reports the damage in every segment;
// Repair quarantines everything after the first damage.
func TestDamageInEarlierSegmentIsCorruption(t *testing.T) {
	dir := t.TempDir()
	segs, want := multiSegmentLog(t, dir)
	s1, s2 := segs[1], segs[2]
	b1 := readFile(t, s1)
	end1 := int64(segmentHeaderSize)
	for _, e := range want[firstSeqOf(t, s1)-1 : firstSeqOf(t, s2)-1] {
		end1 += int64(frameSize(len(e.payload)))
	}
	// Zero the tail of segment 1 from the middle of its last record, and
	// flip a byte in segment 2's first record.
	clear(b1[end1-5:])
	writeFile(t, s1, b1)
	b2 := readFile(t, s2)
	b2[segmentHeaderSize+20] ^= 1
	writeFile(t, s2, b2)

	_, err := Open(dir, testOptions(nil))
	if ce, ok := isCorruption(err); !ok || ce.Segment != s1 {
		t.Fatalf("Open: %v, want corruption in %s", err, s1)
	}
	rep, err := Verify(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	var where []string
	for _, p := range rep.Problems {
		if p.Kind != Corruption {
			t.Fatalf("problem %v should be corruption", p)
		}
		where = append(where, filepath.Base(p.Segment))
	}
	// segment 1's cut tail, the sequence break it causes at segment 2, and
	// segment 2's flipped record.
	if len(rep.Problems) != 3 || where[0] != filepath.Base(s1) || where[2] != filepath.Base(s2) {
		t.Fatalf("Verify problems: %v", rep.Problems)
	}

	rr, err := Repair(nil, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Quarantined) != len(segs)-2 {
		t.Fatalf("quarantined %v, want the %d segments after %s", rr.Quarantined, len(segs)-2, s1)
	}
	for _, m := range rr.Quarantined {
		if !strings.Contains(m.To, corruptSuffix) {
			t.Fatalf("moved to %s", m.To)
		}
		if _, err := os.Stat(m.To); err != nil {
			t.Fatalf("quarantined segment gone: %v", err)
		}
	}
	l := mustOpen(t, dir, testOptions(nil))
	defer l.Close()
	last := l.LastSeq()
	if last != firstSeqOf(t, s2)-2 {
		t.Fatalf("LastSeq after repair %d, want %d", last, firstSeqOf(t, s2)-2)
	}
	sameEntries(t, readAll(t, l), want[:last])
}

func TestSequenceBreakAndBadHeader(t *testing.T) {
	t.Run("missing middle segment", func(t *testing.T) {
		dir := t.TempDir()
		segs, want := multiSegmentLog(t, dir)
		if err := os.Rename(segs[2], filepath.Join(t.TempDir(), "gone")); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, testOptions(nil))
		ce, ok := isCorruption(err)
		if !ok || ce.Segment != segs[3] || ce.Offset != 0 || !strings.Contains(ce.Reason, "sequence break") {
			t.Fatalf("Open: %v", err)
		}
		if _, err := Repair(nil, dir, nil); err != nil {
			t.Fatal(err)
		}
		l := mustOpen(t, dir, testOptions(nil))
		defer l.Close()
		sameEntries(t, readAll(t, l), want[:firstSeqOf(t, segs[2])-1])
	})
	t.Run("bad header in first segment", func(t *testing.T) {
		dir := t.TempDir()
		segs, _ := multiSegmentLog(t, dir)
		b := readFile(t, segs[0])
		b[3] = 'X'
		writeFile(t, segs[0], b)
		_, err := Open(dir, testOptions(nil))
		if ce, ok := isCorruption(err); !ok || ce.Segment != segs[0] || ce.Offset != 0 || !strings.Contains(ce.Reason, "magic") {
			t.Fatalf("Open: %v", err)
		}
		rr, err := Repair(nil, dir, nil)
		if err != nil || len(rr.Quarantined) != len(segs) {
			t.Fatalf("Repair: %v %+v", err, rr)
		}
		// Nothing usable is left: the log starts afresh at FirstSeq.
		o := testOptions(nil)
		o.FirstSeq = 500
		l := mustOpen(t, dir, o)
		defer l.Close()
		if seq, err := l.Append(1, nil); err != nil || seq != 500 {
			t.Fatalf("append: %d %v", seq, err)
		}
		if n := len(filesWith(t, dir, corruptSuffix)); n != len(segs) {
			t.Fatalf("%d .corrupt files, want %d", n, len(segs))
		}
	})
}

// TestEvidenceIsNeverOverwritten: a second torn tail of the same segment
// gets .broken.1.
func TestEvidenceIsNeverOverwritten(t *testing.T) {
	dir := t.TempDir()
	for round := range 2 {
		l := mustOpen(t, dir, Options{SegmentSize: 64 << 10})
		if _, err := l.Append(1, []byte("whole record")); err != nil {
			t.Fatal(err)
		}
		end := l.segs[0].end
		mustClose(t, l)
		seg := segmentPaths(t, dir)[0]
		b := readFile(t, seg)
		copy(b[end:], appendRecord(nil, l.LastSeq()+1, 0, 1, []byte("torn record"))[:15])
		writeFile(t, seg, b)
		l = mustOpen(t, dir, Options{SegmentSize: 64 << 10})
		mustClose(t, l)
		if n := len(filesWith(t, dir, brokenSuffix)); n != round+1 {
			t.Fatalf("round %d: %d evidence files", round, n)
		}
	}
	if _, err := os.Stat(filepath.Join(segmentPaths(t, dir)[0] + brokenSuffix + ".1")); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(nil, dir)
	if err != nil || !rep.OK() || len(rep.Evidence) != 2 {
		t.Fatalf("Verify: %v %+v", err, rep)
	}
}

func TestVerifyMissingDirectory(t *testing.T) {
	if _, err := Verify(nil, filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Verify of a missing dir: %v", err)
	}
}
