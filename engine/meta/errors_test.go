package meta

import (
	"errors"
	"testing"

	"github.com/mattn/go-sqlite3"
)

// TestTranslateErrorFullDisk: SQLITE_FULL is ErrNoSpace, with the SQLite
// error kept in the chain.
func TestTranslateErrorFullDisk(t *testing.T) {
	err := TranslateError(sqlite3.Error{Code: sqlite3.ErrFull})
	var se sqlite3.Error
	if !errors.Is(err, ErrNoSpace) || !errors.As(err, &se) || se.Code != sqlite3.ErrFull {
		t.Fatalf("TranslateError(SQLITE_FULL) = %v", err)
	}
	if err := TranslateError(sqlite3.Error{Code: sqlite3.ErrBusy}); errors.Is(err, ErrNoSpace) {
		t.Fatalf("SQLITE_BUSY became %v", err)
	}
}
