package wal

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const crashChildEnv = "AKIDB_WAL_CRASH_CHILD_DIR"

// TestCrashKill9 re-executes the test binary as a child that appends from
// four goroutines and prints every acknowledged record, kills it with
// SIGKILL mid-stream, reopens the log and checks every acknowledged record
// is there, three times over the same directory.
func TestCrashKill9(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	acked := map[uint64]string{}
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKill9$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			seq, payload, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				continue // test framework output
			}
			s, err := strconv.ParseUint(seq, 10, 64)
			if err != nil {
				continue
			}
			acked[s] = payload
			if n++; n == 300 {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		for sc.Scan() { // drain what the child printed before dying
			if seq, payload, ok := strings.Cut(sc.Text(), " "); ok {
				if s, err := strconv.ParseUint(seq, 10, 64); err == nil {
					acked[s] = payload
				}
			}
		}
		cmd.Wait()
		if n < 300 {
			t.Fatalf("round %d: child stopped after %d acknowledgements", round, n)
		}

		l := mustOpen(t, dir, testOptions(nil))
		got := map[uint64]string{}
		for _, e := range readAll(t, l) {
			got[e.seq] = string(e.payload)
		}
		for s, p := range acked {
			if got[s] != p {
				t.Fatalf("round %d: acknowledged seq %d (%q) lost or changed (%q)", round, s, p, got[s])
			}
		}
		mustClose(t, l)
	}
}

func crashChild(dir string) {
	l, err := Open(dir, testOptions(nil))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				p := fmt.Sprintf("pid%d-w%d-i%d-%s", os.Getpid(), w, i, strings.Repeat("x", i%200))
				seq, err := l.Append(1, []byte(p))
				if err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%d %s\n", seq, p)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestPowerCutAtRandomPoints runs the log over a MemFS and cuts the power
// at a random filesystem call, 300 times over the same log: writers append
// from four goroutines (rolling through small segments, with truncations),
// and after each cut the log must open and hold every acknowledged record
// unchanged, with no gap in its sequence numbers. Unlike SIGKILL, a cut
// loses every write and directory change no fsync covered.
func TestPowerCutAtRandomPoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 10))
	const dir = "/data/wal"
	m := NewMemFS()
	if err := m.MkdirAll("/data", dirPerm); err != nil {
		t.Fatal(err)
	}
	m.MakeDurable()
	acked := map[uint64]string{}
	cuts := 0
	for cycle := range 300 {
		ff := NewFaultFS(m)
		ff.AddRule(Rule{Op: OpAny, Nth: 1 + rng.IntN(400), Crash: true})
		o := testOptions(ff)
		o.SegmentSize = 1024
		if l, err := Open(dir, o); err == nil {
			var mu sync.Mutex
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						p := fmt.Sprintf("c%d-w%d-i%d-%s", cycle, w, i, strings.Repeat("x", (i*37+w)%150))
						seq, err := l.Append(1, []byte(p))
						if err != nil {
							return
						}
						mu.Lock()
						acked[seq] = p
						mu.Unlock()
						if i%16 == 15 {
							_ = l.TruncateBefore(seq - 20)
						}
					}
				}()
			}
			wg.Wait()
			_ = l.Close()
		}
		after := ff.AfterCrash()
		if after == nil {
			t.Fatalf("cycle %d: the workload ended without the power cut", cycle)
		}
		cuts++
		m = after
		l, err := Open(dir, testOptions(m))
		if err != nil {
			t.Fatalf("cycle %d: open after a power cut: %v", cycle, err)
		}
		got := map[uint64]string{}
		prev := uint64(0)
		for _, e := range readAll(t, l) {
			if prev != 0 && e.seq != prev+1 {
				t.Fatalf("cycle %d: sequence jumps from %d to %d", cycle, prev, e.seq)
			}
			prev = e.seq
			got[e.seq] = string(e.payload)
		}
		first := l.FirstSeq()
		for s, p := range acked {
			if s >= first && got[s] != p {
				t.Fatalf("cycle %d: acknowledged seq %d (%q) lost or changed (%q)", cycle, s, p, got[s])
			}
		}
		if s := l.LastSeq(); s < maxKey(acked) {
			t.Fatalf("cycle %d: log ends at %d, %d was acknowledged", cycle, s, maxKey(acked))
		}
		mustClose(t, l)
	}
	t.Logf("%d power cuts, %d acknowledged records checked", cuts, len(acked))
}

func maxKey(m map[uint64]string) uint64 {
	var x uint64
	for k := range m {
		x = max(x, k)
	}
	return x
}
