package dirlock

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// FileName is the name of the lock file inside the data directory.
const FileName = "LOCK"

// HeldError reports that another open file description (another process,
// or another Acquire in this one) holds the lock. Callers branch on it with
// errors.As to print it as is: it tells the operator what to do.
type HeldError struct {
	// Path is the data directory (made absolute when possible).
	Path string
	// PID is the holder's pid as written in the lock file, or 0 when the
	// file did not hold one yet (the holder had not written it).
	PID int
}

func (e *HeldError) Error() string {
	holder := "pid unknown"
	if e.PID > 0 {
		holder = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("data dir %s is in use by another akidb process (%s); stop it or choose another --data-dir",
		e.Path, holder)
}

// Lock is a held data-directory lock. Release it when done; the kernel
// releases it anyway when the process exits.
type Lock struct {
	mu   sync.Mutex
	f    *os.File // nil once released
	path string   // the lock file
}

// Acquire takes the lock of dir, which must exist. It does not wait: if the
// lock is held it returns a *HeldError naming the holder's pid.
func Acquire(dir string) (*Lock, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	path := filepath.Join(dir, FileName)
	// 0600: the data dir holds secrets and nothing but akidb needs this file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid := readPID(f)
			f.Close()
			return nil, &HeldError{Path: dir, PID: pid}
		}
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := writePID(f, os.Getpid()); err != nil {
		// Closing the file drops the flock too.
		f.Close()
		return nil, fmt.Errorf("write pid to %s: %w", path, err)
	}
	return &Lock{f: f, path: path}, nil
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// Release clears the pid, drops the lock and closes the file. Releasing
// twice is a no-op.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	var errs []error
	// Clear the pid while still holding the lock so a reader never sees
	// ours after we let go.
	if err := f.Truncate(0); err != nil {
		errs = append(errs, fmt.Errorf("clear pid in %s: %w", l.path, err))
	}
	if err := flock(f, unix.LOCK_UN); err != nil {
		errs = append(errs, fmt.Errorf("unlock %s: %w", l.path, err))
	}
	if err := f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close %s: %w", l.path, err))
	}
	return errors.Join(errs...)
}

// flock retries on EINTR, which a signal (Go's preemption uses them) can
// cause even for a non-blocking request.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func writePID(f *os.File, pid int) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0); err != nil {
		return err
	}
	return f.Sync()
}

// readPID returns the pid in the lock file, or 0 if it holds none (the
// holder has not written it yet, or released the lock meanwhile).
func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, err := f.ReadAt(buf, 0)
	if err != nil && n == 0 {
		return 0
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
