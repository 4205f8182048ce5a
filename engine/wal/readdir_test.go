package wal

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// dirBytes is every file under dir by relative path, for "nothing changed"
// checks.
func dirBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = readFile(t, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameDir(t *testing.T, dir string, before map[string][]byte) {
	t.Helper()
	if after := dirBytes(t, dir); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Fatalf("ReplayDir changed %s: %d files before, %d after", dir, len(before), len(after))
	}
}

func replayDir(t *testing.T, dir string, from uint64) ([]entry, DirReplay, error) {
	t.Helper()
	var got []entry
	rep, err := ReplayDir(nil, dir, from, func(seq uint64, typ byte, payload []byte) error {
		got = append(got, entry{seq, typ, bytes.Clone(payload)})
		return nil
	})
	return got, rep, err
}

func TestReplayDirReadsWhatReplayReads(t *testing.T) {
	dir := t.TempDir()
	_, want := multiSegmentLog(t, dir)
	before := dirBytes(t, dir)
	last := want[len(want)-1].seq
	for _, from := range []uint64{0, 1, 50, last, last + 1, last + 10} {
		got, rep, err := replayDir(t, dir, from)
		if err != nil {
			t.Fatalf("from %d: %v", from, err)
		}
		start := min(max(int(from), 1)-1, len(want))
		sameEntries(t, got, want[start:])
		if rep.FirstSeq != 1 || rep.LastSeq != last || rep.Records != len(got) || rep.TornTail != nil {
			t.Fatalf("from %d: report %+v", from, rep)
		}
	}
	sameDir(t, dir, before)
}

// A torn tail ends the log where Open would cut it, but is left in place.
func TestReplayDirStopsAtATornTail(t *testing.T) {
	dir := t.TempDir()
	seg, want, offs := oneSegmentLog(t, dir, 12, 3)
	n := len(want)
	damaged := readFile(t, seg)[:offs[n-1]+5] // the last record cut short
	writeFile(t, seg, damaged)
	before := dirBytes(t, dir)
	got, rep, err := replayDir(t, dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	sameEntries(t, got, want[:n-1])
	if rep.TornTail == nil || rep.TornTail.Kind != TornTail || rep.LastSeq != uint64(n-1) {
		t.Fatalf("report %+v", rep)
	}
	sameDir(t, dir, before)
}

func TestReplayDirRefusesCorruption(t *testing.T) {
	dir := t.TempDir()
	seg, _, offs := oneSegmentLog(t, dir, 12, 5)
	damaged := readFile(t, seg)
	damaged[offs[6]+3] ^= 0xff
	writeFile(t, seg, damaged)
	before := dirBytes(t, dir)
	_, _, err := replayDir(t, dir, 1)
	if ce, ok := isCorruption(err); !ok || ce.Offset != offs[6] {
		t.Fatalf("got %v, want a *CorruptionError at offset %d", err, offs[6])
	}
	sameDir(t, dir, before)
}

func TestReplayDirMissingRecordsAndDirectory(t *testing.T) {
	dir := t.TempDir()
	segs, want := multiSegmentLog(t, dir)
	if err := os.Remove(segs[0]); err != nil {
		t.Fatal(err)
	}
	first := firstSeqOf(t, segs[1])
	if _, _, err := replayDir(t, dir, 1); !errors.Is(err, ErrMissingRecords) {
		t.Fatalf("from before the oldest segment: %v, want ErrMissingRecords", err)
	}
	got, _, err := replayDir(t, dir, first)
	if err != nil {
		t.Fatal(err)
	}
	sameEntries(t, got, want[first-1:])

	missing := filepath.Join(t.TempDir(), "nope")
	got, rep, err := replayDir(t, missing, 8)
	if err != nil || len(got) != 0 || rep.LastSeq != 7 || rep.FirstSeq != 8 {
		t.Fatalf("missing directory: %d records, %+v, %v", len(got), rep, err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReplayDir created %s: %v", missing, err)
	}
}

func TestReplayDirStopsOnCallbackError(t *testing.T) {
	dir := t.TempDir()
	_, _ = multiSegmentLog(t, dir)
	stop := errors.New("stop here")
	calls := 0
	_, err := ReplayDir(nil, dir, 1, func(uint64, byte, []byte) error {
		calls++
		if calls == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 10 {
		t.Fatalf("after %d calls: %v", calls, err)
	}
}
