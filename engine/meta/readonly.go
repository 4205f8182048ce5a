package meta

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// SchemaOutdatedError is returned by OpenReadOnly for a database that has
// migrations this binary would apply: a read-only reader cannot apply them,
// and its queries assume the current tables.
type SchemaOutdatedError struct {
	Path          string
	DBVersion     int
	BinaryVersion int
}

func (e *SchemaOutdatedError) Error() string {
	return fmt.Sprintf("metadata database %s has schema version %d and this akidb binary expects %d: "+
		"start `akidb serve` on the data directory once to upgrade it, then try again", e.Path, e.DBVersion, e.BinaryVersion)
}

// OpenReadOnly opens an existing database for reading only, for offline
// tools that must leave a data directory exactly as they found it (akidb
// export): it creates no file, applies no migration and changes no file
// mode, and every write through the Store fails. The caller must keep
// writers out (hold the data directory's lock) while the Store is open.
// SQLite still reads a write-ahead log left by a server that stopped
// without checkpointing (creating its -shm index if it is missing); the
// database file itself is never written. A database at another schema
// version than this binary's is refused (*SchemaTooNewError or
// *SchemaOutdatedError). A nil logger discards.
func OpenReadOnly(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	path = abs
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open metadata database %s read-only: %w", path, ErrNotFound)
		}
		return nil, fmt.Errorf("open metadata database %s read-only: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open metadata database %s read-only: %w: not a regular file (%v)", path, ErrInvalidArgument, fi.Mode().Type())
	}
	migs, err := builtinMigrations()
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite3", readOnlyDSN(path, DefaultBusyTimeout, walExists(path)))
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s read-only: %w", path, err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	s := &Store{db: db, path: path, logger: logger, now: time.Now, rand: rand.Reader}
	if err := checkReadOnlySchema(ctx, db, path, latestVersion(migs)); err != nil {
		db.Close()
		return nil, fmt.Errorf("open metadata database %s read-only: %w", path, err)
	}
	return s, nil
}

// readOnlyDSN is a SQLite URI (so that mode=ro reaches SQLite itself) with
// the path escaped; query_only refuses writes on every connection too.
// Without a -wal file (the last writer closed cleanly) everything is in
// the database file, and immutable=1 lets SQLite read it without creating
// the -wal and -shm files a WAL-mode reader otherwise needs; with one, its
// committed transactions must be read, which mode=ro does. The caller holds
// the data directory's lock, so no writer can appear meanwhile.
func readOnlyDSN(path string, busyTimeout time.Duration, hasWAL bool) string {
	dsn := fmt.Sprintf("file:%s?mode=ro&_query_only=1&_foreign_keys=on&_busy_timeout=%d",
		(&url.URL{Path: path}).EscapedPath(), busyTimeout.Milliseconds())
	if !hasWAL {
		dsn += "&immutable=1"
	}
	return dsn
}

func walExists(path string) bool {
	_, err := os.Lstat(path + "-wal")
	return err == nil
}

func checkReadOnlySchema(ctx context.Context, db *sql.DB, path string, latest int) error {
	if err := db.PingContext(ctx); err != nil {
		return TranslateError(err)
	}
	current, err := schemaVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case current > latest:
		return &SchemaTooNewError{Path: path, DBVersion: current, BinaryVersion: latest}
	case current < latest:
		return &SchemaOutdatedError{Path: path, DBVersion: current, BinaryVersion: latest}
	}
	return nil
}
