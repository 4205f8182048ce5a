package wal

import (
	"errors"
	"fmt"
	"syscall"
)

var (
	// ErrFailed is wrapped by every error from a log that has fail-stopped
	// after a write or fsync error. The original error is wrapped too.
	ErrFailed = errors.New("wal: log failed (fail-stop after an I/O error; reopen to recover)")
	// ErrClosed is returned by calls on a closed log.
	ErrClosed = errors.New("wal: log closed")
	// ErrTooLarge is returned for a record (or batch) over the size limits.
	ErrTooLarge = errors.New("wal: record too large")
	// ErrNoSpace is wrapped (with the filesystem's ENOSPC or EDQUOT) by
	// the error of every record the log refused because the disk is full.
	// Unlike a failure it is not fail-stop: the log found no room before
	// writing any byte of the refused records, gives their sequence
	// numbers back and goes on; a later append succeeds once space is
	// freed.
	ErrNoSpace = errors.New("wal: no space left for the log (records refused, nothing written)")
	// ErrMissingRecords is returned by Replay when asked for sequence
	// numbers the log does not hold: removed by TruncateBefore, or beyond
	// its end.
	ErrMissingRecords = errors.New("wal: requested records are not in the log")
)

// CorruptionError reports bytes in a segment that cannot be a crash
// artifact: a damaged record with valid records after it, any damaged record
// in a segment that is not the last, a bad segment header, or a break in the
// sequence numbers. Open refuses such a log; Repair moves the damage aside.
type CorruptionError struct {
	Segment string // path of the segment file
	Offset  int64  // byte offset of the damaged record or header in that file
	Reason  string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal: corruption in segment %s at offset %d: %s", e.Segment, e.Offset, e.Reason)
}

// noSpaceError is a write that found no room before any byte of the
// records it was for reached a segment: the log is intact, and those
// records can be refused without failing it.
type noSpaceError struct{ err error }

func (e *noSpaceError) Error() string { return e.err.Error() }
func (e *noSpaceError) Unwrap() error { return e.err }

// IsNoSpace reports whether err is the filesystem saying it is full
// (ENOSPC) or the user's quota is (EDQUOT).
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// refusable marks err as a noSpaceError when it says the disk is full;
// the caller guarantees nothing of the records at hand was written.
func refusable(err error) error {
	if err != nil && IsNoSpace(err) {
		return &noSpaceError{err}
	}
	return err
}

// failedError makes the fail-stop error: errors.Is matches both ErrFailed
// and the original cause (syscall.EIO, ENOSPC...).
func failedError(cause error) error {
	return fmt.Errorf("%w: %w", ErrFailed, cause)
}
