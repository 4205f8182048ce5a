package wal

import (
	"bufio"
	"fmt"
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
