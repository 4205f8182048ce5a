package wal

import (
	"errors"
	"fmt"
)

var (
	// ErrFailed is wrapped by every error from a log that has fail-stopped
	// after a write or fsync error. The original error is wrapped too.
	ErrFailed = errors.New("wal: log failed (fail-stop after an I/O error; reopen to recover)")
	// ErrClosed is returned by calls on a closed log.
	ErrClosed = errors.New("wal: log closed")
	// ErrTooLarge is returned for a record (or batch) over the size limits.
	ErrTooLarge = errors.New("wal: record too large")
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

// failedError makes the fail-stop error: errors.Is matches both ErrFailed
// and the original cause (syscall.EIO, ENOSPC...).
func failedError(cause error) error {
	return fmt.Errorf("%w: %w", ErrFailed, cause)
}
