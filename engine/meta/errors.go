package meta

import (
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"
)

// Errors callers branch on with errors.Is. Every error the Store returns
// wraps at most one of them, with context (what, which id or name).
var (
	// ErrNotFound: no such tenant or collection.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a UNIQUE or PRIMARY KEY constraint refused the
	// row (a tenant name, a collection name within its tenant, an id).
	ErrAlreadyExists = errors.New("already exists")
	// ErrInUse: the row is still referenced (a tenant with collections).
	ErrInUse = errors.New("in use")
	// ErrInvalidArgument: the caller passed a value the catalog refuses
	// (an empty name, an unknown state, a malformed id), or asked for
	// something never allowed (deleting the default tenant).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrInvalidTransition: the collection's current state does not allow
	// the requested change (see SetCollectionState, DeleteCollection).
	ErrInvalidTransition = errors.New("invalid state transition")
	// ErrCorrupt: SQLite reports the database file as malformed or not a
	// database at all. `akidb fsck` is the way forward.
	ErrCorrupt = errors.New("metadata database is corrupt")
	// ErrNoSpace: SQLite could not write for lack of disk space
	// (SQLITE_FULL). Nothing of the statement was stored.
	ErrNoSpace = errors.New("metadata database: the disk is full")
)

// SchemaTooNewError is returned by Open when the database was migrated by a
// newer akidb than this one: running on would mean writing to tables this
// binary does not understand.
type SchemaTooNewError struct {
	Path          string
	DBVersion     int // highest version recorded in schema_migrations
	BinaryVersion int // highest migration embedded in this binary
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("metadata database %s has schema version %d, but this akidb binary only knows versions up to %d: "+
		"it was written by a newer akidb; run that version (or newer) instead", e.Path, e.DBVersion, e.BinaryVersion)
}

// TranslateError maps a SQLite error onto this package's sentinels, keeping
// the original in the chain (errors.As to sqlite3.Error still works):
// UNIQUE and PRIMARY KEY violations become ErrAlreadyExists, a malformed or
// non-database file ErrCorrupt, a full disk ErrNoSpace. Other errors come back unchanged, and so do
// FOREIGN KEY violations, whose meaning depends on the statement (a missing
// parent on insert, remaining children on delete): see
// IsForeignKeyViolation. It is exported for packages that run their own
// queries through Store.DB.
func TranslateError(err error) error {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return err
	}
	switch {
	case se.ExtendedCode == sqlite3.ErrConstraintUnique, se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey:
		return fmt.Errorf("%w: %w", ErrAlreadyExists, err)
	case se.Code == sqlite3.ErrCorrupt, se.Code == sqlite3.ErrNotADB:
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case se.Code == sqlite3.ErrFull:
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// IsForeignKeyViolation reports whether err is SQLite refusing a statement
// for a FOREIGN KEY constraint.
func IsForeignKeyViolation(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintForeignKey
}
