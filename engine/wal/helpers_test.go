package wal

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// entry is a record as a test expects to read it back.
type entry struct {
	seq     uint64
	typ     byte
	payload []byte
}

func (e entry) String() string {
	return fmt.Sprintf("{seq %d type %d %d bytes}", e.seq, e.typ, len(e.payload))
}

// testOptions returns options with small segments so that tests roll often.
func testOptions(fsys FS) Options {
	return Options{FS: fsys, SegmentSize: 4096, MaxRecordSize: 64 << 10}
}

func mustOpen(t testing.TB, dir string, o Options) *Log {
	t.Helper()
	l, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return l
}

func mustClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// randomPayload returns n seeded-random bytes with no zero byte (so that
// trailing-zero trimming of evidence files is predictable).
func randomPayload(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(1 + rng.IntN(255))
	}
	return b
}

// readAll replays the whole log.
func readAll(t testing.TB, l *Log) []entry {
	t.Helper()
	var got []entry
	err := l.Replay(0, func(seq uint64, typ byte, payload []byte) error {
		got = append(got, entry{seq, typ, bytes.Clone(payload)})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return got
}

func sameEntries(t testing.TB, got, want []entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d (got %v, want %v)", len(got), len(want), short(got), short(want))
	}
	for i := range got {
		if got[i].seq != want[i].seq || got[i].typ != want[i].typ || !bytes.Equal(got[i].payload, want[i].payload) {
			t.Fatalf("record %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func short(es []entry) string {
	if len(es) <= 6 {
		return fmt.Sprint(es)
	}
	return fmt.Sprintf("[%v %v ... %v %v]", es[0], es[1], es[len(es)-2], es[len(es)-1])
}

// segmentPaths lists the segment files in dir, oldest first.
func segmentPaths(t testing.TB, dir string) []string {
	t.Helper()
	ls, err := listDir(OSFS{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range ls.segments {
		out = append(out, s.path)
	}
	return out
}

// filesWithSuffix lists names in dir containing the marker (".broken", ".corrupt").
func filesWith(t testing.TB, dir, marker string) []string {
	t.Helper()
	names, err := OSFS{}.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if strings.Contains(n, marker) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out)
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// logCapture is a slog handler target that keeps the text of every record.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *logCapture) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// fakeClock drives SyncInterval deterministically: the test sends ticks.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	ticks  chan time.Time
	period time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_700_000_000, 0), ticks: make(chan time.Time)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond) // every fsync "takes" 1ms
	return c.now
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.period = d
	return fakeTicker{c.ticks}
}

// NewTimer returns a timer that never fires: tests of the commit delay
// drive it with Wait calls, not time.
func (c *fakeClock) NewTimer(d time.Duration) Timer { return fakeTimer{} }

type fakeTimer struct{}

func (fakeTimer) Chan() <-chan time.Time { return nil }
func (fakeTimer) Stop() bool             { return true }

// tick delivers one tick; it returns once the committer has received it.
func (c *fakeClock) tick() { c.ticks <- time.Time{} }

type fakeTicker struct{ c chan time.Time }

func (t fakeTicker) Chan() <-chan time.Time { return t.c }
func (t fakeTicker) Stop()                  {}

func isCorruption(err error) (*CorruptionError, bool) {
	var ce *CorruptionError
	ok := errors.As(err, &ce)
	return ce, ok
}
