//go:build !linux

package mapped

import (
	"errors"
	"os"
)

// errUnsupported makes every Alloc fall back to the heap where fallocate
// and mmap are not wired up.
var errUnsupported = errors.New("file-backed memory is supported on Linux only")

func fallocate(*os.File, int64) error { return errUnsupported }

func mapShared(*os.File, int) ([]byte, error) { return nil, errUnsupported }

func unmap([]byte) error { return nil }

func dropPages([]byte) {}
