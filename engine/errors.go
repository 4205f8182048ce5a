package engine

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on with errors.Is. Transports map them to
// statuses through one table (serve/api).
var (
	ErrNotFound        = errors.New("not found")
	ErrAlreadyExists   = errors.New("already exists")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrClosed          = errors.New("collection is closed")
	// ErrNoSpace: the disk is full. The write was refused and nothing of
	// it was stored; reads go on, and writes succeed again once space is
	// freed, without a restart.
	ErrNoSpace = errors.New("insufficient storage: the disk is full")
)

// ValidationError says which input was refused and why. It matches
// ErrInvalidArgument with errors.Is.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Reason)
}

// Is makes every ValidationError match ErrInvalidArgument.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidArgument }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
