package dirlock

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childDirEnv, when set, turns the test binary into a lock holder: it takes
// the lock of that directory, prints "locked <pid>" and waits for stdin to
// close (or to be killed).
const childDirEnv = "AKIDB_DIRLOCK_TEST_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		os.Exit(runChild(dir))
	}
	os.Exit(m.Run())
}

func runChild(dir string) int {
	l, err := Acquire(dir)
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	fmt.Printf("locked %d\n", os.Getpid())
	_, _ = io.Copy(io.Discard, os.Stdin) // hold until the parent lets go
	if err := l.Release(); err != nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	return 0
}

func readLockFile(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAcquireWritesPIDAndReleaseClearsIt(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readLockFile(t, dir), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Fatalf("lock file holds %q, want %q", got, want)
	}
	fi, err := os.Stat(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file mode %v, want 0600", fi.Mode().Perm())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if got := readLockFile(t, dir); got != "" {
		t.Fatalf("lock file holds %q after release, want empty", got)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second release: %v", err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if err := l2.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestAcquireOverStalePIDFile(t *testing.T) {
	dir := t.TempDir()
	// A leftover file from a crashed holder with a longer pid: the new pid
	// must replace it whole, not overwrite its prefix.
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("123456789012\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if got, want := readLockFile(t, dir), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Fatalf("lock file holds %q, want %q", got, want)
	}
}

func TestSecondAcquireInSameProcessFails(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()

	_, err = Acquire(dir)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second acquire: got %v, want *HeldError", err)
	}
	if held.PID != os.Getpid() {
		t.Fatalf("HeldError.PID = %d, want %d", held.PID, os.Getpid())
	}
	if held.Path != dir {
		t.Fatalf("HeldError.Path = %q, want %q", held.Path, dir)
	}
	// The failed attempt must not have disturbed the holder's pid.
	if got, want := readLockFile(t, dir), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Fatalf("lock file holds %q, want %q", got, want)
	}
}

func TestHeldErrorMessage(t *testing.T) {
	got := (&HeldError{Path: "/x", PID: 1234}).Error()
	want := "data dir /x is in use by another akidb process (pid 1234); stop it or choose another --data-dir"
	if got != want {
		t.Fatalf("message\n got %q\nwant %q", got, want)
	}
	if got := (&HeldError{Path: "/x"}).Error(); !strings.Contains(got, "(pid unknown)") {
		t.Fatalf("message without pid: %q", got)
	}
}

func TestAcquireMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := Acquire(dir)
	if err == nil {
		t.Fatal("acquire in a missing dir succeeded")
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
	var held *HeldError
	if errors.As(err, &held) {
		t.Fatalf("missing dir reported as held: %v", err)
	}
}

// TestLockHeldByAnotherProcess re-executes the test binary as a child that
// takes the lock, checks the parent is refused with the child's pid, kills
// the child, and checks the lock is then free.
func TestLockHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	var report string
	select {
	case report = <-line:
	case <-time.After(60 * time.Second):
		t.Fatal("child did not report within 60s")
	}
	want := fmt.Sprintf("locked %d", cmd.Process.Pid)
	if report != want {
		t.Fatalf("child reported %q, want %q", report, want)
	}

	_, err = Acquire(dir)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("acquire while child holds the lock: got %v, want *HeldError", err)
	}
	if held.PID != cmd.Process.Pid {
		t.Fatalf("HeldError.PID = %d, want child pid %d", held.PID, cmd.Process.Pid)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", cmd.Process.Pid)) {
		t.Fatalf("message does not name the child: %v", err)
	}

	// SIGKILL: the child gets no chance to release; the kernel must.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // "signal: killed" is expected
	killed = true

	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("acquire after the child died: %v", err)
	}
	if got, want := readLockFile(t, dir), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Fatalf("lock file holds %q, want %q", got, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}
