package wal

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
)

// TestNoSpaceRefusesAndResumes fills a small disk (MemFS with a capacity)
// under four concurrent appenders: records that find no room are refused
// with ErrNoSpace (the disk's ENOSPC wrapped), the log never fail-stops,
// refused sequence numbers are given back, and once space returns appends
// succeed again. After a reopen the log holds exactly the acknowledged
// records, with no gap.
func TestNoSpaceRefusesAndResumes(t *testing.T) {
	m := NewMemFS()
	if err := m.MkdirAll("/data", dirPerm); err != nil {
		t.Fatal(err)
	}
	o := testOptions(m)
	o.SegmentSize, o.InitialSegmentSize = 8<<10, 1<<10
	l := mustOpen(t, "/data/wal", o)
	m.SetCapacity(m.Used() + 20<<10)
	var mu sync.Mutex
	acked := map[uint64]string{}
	refusedPayloads := map[string]bool{}
	run := func(phase string, refusals int) {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				seen, ok := 0, 0
				for i := 0; seen < refusals && ok < 40; i++ {
					p := fmt.Sprintf("%s-w%d-i%d-%0*d", phase, w, i, 20+(i*13+w)%200, 0)
					seq, err := l.Append(1, []byte(p))
					mu.Lock()
					switch {
					case err == nil:
						acked[seq] = p
						ok++
					case errors.Is(err, ErrNoSpace) && errors.Is(err, syscall.ENOSPC):
						refusedPayloads[p] = true
						seen++
					default:
						mu.Unlock()
						t.Errorf("append: %v (want success or ErrNoSpace)", err)
						return
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	run("fill", 25)
	if len(refusedPayloads) == 0 {
		t.Fatal("the disk never filled")
	}
	if err := l.Err(); err != nil || !l.NoSpace() {
		t.Fatalf("after refusals: Err %v, NoSpace %v; want a live log out of space", err, l.NoSpace())
	}
	m.SetCapacity(0)
	n := len(refusedPayloads)
	run("resumed", 1<<30)
	if len(refusedPayloads) != n || l.NoSpace() {
		t.Fatalf("refusals after space returned: %d more", len(refusedPayloads)-n)
	}
	mustClose(t, l)

	l = mustOpen(t, "/data/wal", o)
	defer l.Close()
	got := readAll(t, l)
	if len(got) != len(acked) {
		t.Fatalf("the log holds %d records, %d were acknowledged", len(got), len(acked))
	}
	for i, e := range got {
		if e.seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d: a gap", i, e.seq)
		}
		if acked[e.seq] != string(e.payload) || refusedPayloads[string(e.payload)] {
			t.Fatalf("seq %d holds %q, acknowledged was %q", e.seq, e.payload, acked[e.seq])
		}
	}
}

// TestNoSpaceOnWrite: a write(2) that fails with ENOSPC having written
// nothing (a filesystem that allocates on write) refuses the group and the
// log goes on; one that wrote part of the records before failing cannot be
// undone, and the log fail-stops as for any other write error.
func TestNoSpaceOnWrite(t *testing.T) {
	for _, short := range []bool{false, true} {
		t.Run(fmt.Sprint("short=", short), func(t *testing.T) {
			ff := NewFaultFS(nil)
			dir := t.TempDir()
			l := mustOpen(t, dir, testOptions(ff))
			defer l.Close()
			if _, err := l.Append(1, []byte("before")); err != nil {
				t.Fatal(err)
			}
			ff.AddRule(Rule{Op: OpWrite, PathSuffix: ".wal", Err: syscall.ENOSPC, Short: short})
			_, err := l.Append(1, []byte("refused-or-failed"))
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("append when write(2) says ENOSPC: %v", err)
			}
			if short != errors.Is(err, ErrFailed) || short == errors.Is(err, ErrNoSpace) {
				t.Fatalf("short=%v: %v; want fail-stop only for a partial write", short, err)
			}
			seq, err := l.Append(1, []byte("after"))
			if short {
				if err == nil {
					t.Fatal("append after a partial write was accepted")
				}
				return
			}
			if err != nil || seq != 2 {
				t.Fatalf("append after a refused write: seq %d, %v; want 2 (the refused number given back)", seq, err)
			}
			sameEntries(t, readAll(t, l), []entry{{1, 1, []byte("before")}, {2, 1, []byte("after")}})
		})
	}
}
