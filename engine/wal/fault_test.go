package wal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// faultOptions uses 1 KiB segments so the workload rolls about ten times.
func faultOptions(fsys FS) Options {
	o := testOptions(fsys)
	o.SegmentSize = 1024
	return o
}

// faultUnit is one Append or AppendBatch of the fault workload.
type faultUnit struct {
	recs  []entry
	acked bool
}

// seedTornLog leaves dir with 5 acknowledged records, a torn record after
// them and a half-created segment, so that the next Open has recovery work
// (evidence file, truncate, remove) for faults to hit.
func seedTornLog(t *testing.T, dir string) []entry {
	t.Helper()
	rng := rand.New(rand.NewPCG(20, 20))
	l := mustOpen(t, dir, faultOptions(nil))
	want := appendSome(t, l, rng, 5, 100)
	end := l.segs[len(l.segs)-1].end
	mustClose(t, l)
	seg := segmentPaths(t, dir)[0]
	b := readFile(t, seg)
	copy(b[end:], appendRecord(nil, 6, 0, 1, randomPayload(rng, 80))[:50])
	writeFile(t, seg, b)
	writeFile(t, filepath.Join(dir, segmentName(99)+tmpSuffix), []byte("half"))
	return want
}

// runFaultWorkload opens the seeded log through a FaultFS armed with rule,
// appends (rolling through several segments), truncates, closes; then checks
// with the real filesystem that the log opens and holds exactly a prefix of
// what was attempted that includes every acknowledged record. It reports
// whether the fault fired.
func runFaultWorkload(t *testing.T, dir string, rule Rule) bool {
	t.Helper()
	seed := seedTornLog(t, dir)
	ffs := NewFaultFS(OSFS{})
	ffs.AddRule(rule)
	defer func() {
		if t.Failed() {
			t.Logf("rule %+v fired %v", rule, ffs.Fired())
		}
	}()
	rng := rand.New(rand.NewPCG(21, 21))
	units := []faultUnit{}
	for _, e := range seed {
		units = append(units, faultUnit{recs: []entry{e}, acked: true})
	}
	truncatedBefore := uint64(0)

	l, err := Open(dir, faultOptions(ffs))
	if err != nil {
		if len(ffs.Fired()) == 0 {
			t.Fatalf("Open failed without an injected fault: %v", err)
		}
	} else {
		failed := false
		next := uint64(len(seed) + 1) // the seq the next record must get
		for i := 0; i < 40 && !failed; i++ {
			var u faultUnit
			var seq uint64
			if i%4 == 3 {
				recs := []Record{{1, randomPayload(rng, 100)}, {2, randomPayload(rng, 100)}, {3, randomPayload(rng, 100)}}
				seq, err = l.AppendBatch(recs)
				for k, r := range recs {
					u.recs = append(u.recs, entry{next + uint64(k), r.Type, r.Payload})
				}
			} else {
				e := entry{seq: next, typ: byte(i), payload: randomPayload(rng, 10+rng.IntN(300))}
				seq, err = l.Append(e.typ, e.payload)
				u.recs = []entry{e}
			}
			next += uint64(len(u.recs))
			// A failed unit was attempted: it may or may not survive.
			units = append(units, u)
			switch {
			case errors.Is(err, ErrNoSpace):
				// Refused before anything was written: not attempted at
				// all as far as the log goes; its numbers are reused.
				if !errors.Is(err, syscall.ENOSPC) || l.Err() != nil {
					t.Fatalf("refusal %v: the cause is lost or the log failed (%v)", err, l.Err())
				}
				units = units[:len(units)-1]
				next -= uint64(len(u.recs))
			case err != nil:
				failed = true
				checkFailStop(t, l, err)
			default:
				units[len(units)-1].acked = true
				if want := u.recs[len(u.recs)-1].seq; seq != want {
					t.Fatalf("append returned seq %d, want %d", seq, want)
				}
			}
			if i == 25 && !failed {
				// Even when it fails, some segments may be gone.
				truncatedBefore = 12
				if terr := l.TruncateBefore(12); terr != nil && len(ffs.Fired()) == 0 {
					t.Fatalf("TruncateBefore failed without a fault: %v", terr)
				}
			}
		}
		cerr := l.Close()
		if cerr != nil && len(ffs.Fired()) == 0 {
			t.Fatalf("Close failed without a fault: %v", cerr)
		}
	}
	fired := len(ffs.Fired()) > 0

	// What the real filesystem holds now.
	l2, err := Open(dir, faultOptions(nil))
	if err != nil {
		t.Fatalf("reopen after %v: %v", ffs.Fired(), err)
	}
	defer l2.Close()
	got := readAll(t, l2)
	if len(got) == 0 {
		t.Fatalf("log empty after %v", ffs.Fired())
	}
	// Expected records by seq; attempted but unacknowledged units count too
	// (they may or may not have survived) — but only whole ones.
	var all []entry
	lastAcked := uint64(0)
	for _, u := range units {
		all = append(all, u.recs...)
		if u.acked {
			lastAcked = u.recs[len(u.recs)-1].seq
		}
	}
	first := got[0].seq
	if first > max(truncatedBefore, 1) {
		t.Fatalf("log starts at seq %d, but only records below %d may be removed", first, truncatedBefore)
	}
	if got[len(got)-1].seq < lastAcked {
		t.Fatalf("after %v: log ends at seq %d, but %d was acknowledged", ffs.Fired(), got[len(got)-1].seq, lastAcked)
	}
	if int(got[len(got)-1].seq) > len(all) {
		t.Fatalf("log holds seq %d, only %d were ever appended", got[len(got)-1].seq, len(all))
	}
	sameEntries(t, got, all[first-1:got[len(got)-1].seq])
	// Batches are atomic: the log ends at a unit boundary.
	end := got[len(got)-1].seq
	boundary := false
	for _, u := range units {
		boundary = boundary || u.recs[len(u.recs)-1].seq == end
	}
	if !boundary {
		t.Fatalf("log ends at seq %d, inside a batch", end)
	}
	// And it is usable.
	if seq, err := l2.Append(7, []byte("after")); err != nil || seq != end+1 {
		t.Fatalf("append after reopen: %d %v", seq, err)
	}
	return fired
}

// checkFailStop asserts the fail-stop contract after an Append error.
func checkFailStop(t *testing.T, l *Log, err error) {
	t.Helper()
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("Append error %v does not wrap ErrFailed", err)
	}
	if !errors.Is(err, syscall.EIO) && !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append error %v does not wrap the injected cause", err)
	}
	if _, err2 := l.Append(1, []byte("more")); !errors.Is(err2, ErrFailed) {
		t.Fatalf("Append after failure: %v, want ErrFailed", err2)
	}
	if _, err2 := l.AppendBatch([]Record{{1, nil}}); !errors.Is(err2, ErrFailed) {
		t.Fatalf("AppendBatch after failure: %v, want ErrFailed", err2)
	}
	if l.Err() == nil || !errors.Is(l.Sync(), ErrFailed) {
		t.Fatalf("Err()/Sync() after failure: %v", l.Err())
	}
}

// TestFaultInjectionAtEveryCall fails the k-th call of each kind, for every
// k until the workload no longer reaches a k-th call.
func TestFaultInjectionAtEveryCall(t *testing.T) {
	cases := []Rule{
		{Op: OpWrite},
		{Op: OpWrite, Short: true, Err: syscall.ENOSPC},
		{Op: OpWrite, Sticky: true},
		{Op: OpSync},
		{Op: OpSync, Sticky: true},
		{Op: OpRename},
		{Op: OpAllocate, Err: syscall.ENOSPC},
		{Op: OpSyncDir},
		{Op: OpTruncate},
		{Op: OpRemove},
		{Op: OpOpen},
		{Op: OpRead},
		{Op: OpClose},
	}
	base := t.TempDir()
	for _, c := range cases {
		name := fmt.Sprintf("%v-short=%v-sticky=%v", c.Op, c.Short, c.Sticky)
		t.Run(name, func(t *testing.T) {
			runs := 0
			for k := 1; ; k++ {
				if k > 2000 {
					t.Fatal("workload never ran out of calls")
				}
				rule := c
				rule.Nth = k
				dir := filepath.Join(base, fmt.Sprintf("%s-%d", name, k))
				if !runFaultWorkload(t, dir, rule) {
					break
				}
				runs++
				os.RemoveAll(dir)
			}
			t.Logf("%d runs with a fault injected", runs)
			if runs == 0 {
				t.Fatalf("no %v call was ever made, the case tests nothing", c.Op)
			}
		})
	}
}

// TestFailStopWithConcurrentWriters: when an fsync fails under concurrent
// appenders, every writer of that batch and every later one gets the error,
// nobody hangs, and everything acknowledged survives.
func TestFailStopWithConcurrentWriters(t *testing.T) {
	for _, nth := range []int{2, 5, 9} {
		dir := t.TempDir()
		ffs := NewFaultFS(OSFS{})
		l := mustOpen(t, dir, faultOptions(ffs))
		ffs.AddRule(Rule{Op: OpSync, Nth: nth})
		var (
			mu    sync.Mutex
			acked = map[uint64][]byte{}
			wg    sync.WaitGroup
		)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					p := []byte(fmt.Sprintf("writer %d record %d", w, i))
					seq, err := l.Append(byte(w), p)
					if err != nil {
						if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) {
							t.Errorf("Append: %v", err)
						}
						return
					}
					mu.Lock()
					acked[seq] = p
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if l.Err() == nil {
			t.Fatalf("nth=%d: the log did not fail", nth)
		}
		l.Close()
		l = mustOpen(t, dir, faultOptions(nil))
		got := map[uint64][]byte{}
		for _, e := range readAll(t, l) {
			got[e.seq] = e.payload
		}
		for seq, p := range acked {
			if !bytes.Equal(got[seq], p) {
				t.Fatalf("nth=%d: acknowledged seq %d lost", nth, seq)
			}
		}
		mustClose(t, l)
	}
}
