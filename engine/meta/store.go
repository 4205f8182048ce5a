package meta

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// FileName is the metadata database's name inside the data directory.
const FileName = "akidb.db"

// fileMode is the mode of the database and its -wal and -shm files: they
// hold tenant names today and key hashes later, and nobody but akidb
// needs to read them.
const fileMode fs.FileMode = 0o600

// DefaultBusyTimeout is how long a statement waits for another
// connection's write lock before failing with "database is locked".
const DefaultBusyTimeout = 10 * time.Second

// maxOpenConns bounds the pool. SQLite admits one writer at a time anyway
// (BEGIN IMMEDIATE queues writers on the busy timeout); a few connections
// let readers run beside it without holding many file descriptors on a
// small device.
const maxOpenConns = 8

// Store is the metadata catalog in one SQLite file. It is safe for
// concurrent use.
type Store struct {
	db     *sql.DB
	path   string
	logger *slog.Logger
	now    func() time.Time

	randMu sync.Mutex // guards rand, which need not be safe for concurrent use
	rand   io.Reader

	dlqCounts dlqCountCache
}

// Option changes how Open sets up the Store.
type Option func(*options)

type options struct {
	now         func() time.Time
	rand        io.Reader
	busyTimeout time.Duration
	migrations  fs.FS // nil: the embedded ones
}

// WithClock sets the clock that stamps created_at and applied_at
// (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRand sets the source of random bytes for generated ids (default
// crypto/rand). Tests pass a seeded reader for repeatable ids.
func WithRand(r io.Reader) Option { return func(o *options) { o.rand = r } }

// WithBusyTimeout sets how long a statement waits for the write lock
// (default DefaultBusyTimeout). It is rounded down to milliseconds.
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// withMigrations replaces the embedded migrations (tests of the runner).
func withMigrations(fsys fs.FS) Option { return func(o *options) { o.migrations = fsys } }

// Open opens, creating it if needed, the SQLite database at path (by
// convention <data-dir>/akidb.db; the directory must exist), makes sure
// it and its -wal and -shm files have mode 0600, and applies the pending
// migrations. A database written by a newer akidb is refused with a
// *SchemaTooNewError, a damaged one with an error wrapping ErrCorrupt.
// A nil logger discards.
func Open(ctx context.Context, path string, logger *slog.Logger, opts ...Option) (*Store, error) {
	o := options{now: time.Now, rand: rand.Reader, busyTimeout: DefaultBusyTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	path = abs
	// The driver cuts the DSN at the first '?' and reads options after it.
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("open metadata database %s: %w: the path contains '?', which the SQLite driver reads as the start of its options",
			path, ErrInvalidArgument)
	}

	var migs []migration
	if o.migrations != nil {
		migs, err = loadMigrations(o.migrations)
	} else {
		migs, err = builtinMigrations()
	}
	if err != nil {
		return nil, err
	}

	if err := createOrFixMode(path, logger); err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}

	db, err := sql.Open("sqlite3", dsn(path, o.busyTimeout))
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	s := &Store{db: db, path: path, logger: logger, now: o.now, rand: o.rand}
	if err := s.init(ctx, migs); err != nil {
		db.Close()
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	return s, nil
}

// dsn asks mattn/go-sqlite3 to run these PRAGMAs on every new connection
// (a PRAGMA run once would only reach the one connection it ran on):
// WAL, so readers do not block the writer; synchronous=FULL, so a commit is
// on disk before it returns, which is what lets callers acknowledge it;
// foreign keys, which SQLite leaves off by default; a busy timeout; and
// BEGIN IMMEDIATE for transactions, so a writing transaction takes the
// write lock up front and waits for it, instead of failing with
// SQLITE_BUSY when it upgrades from reading.
func dsn(path string, busyTimeout time.Duration) string {
	return fmt.Sprintf("%s?_journal_mode=WAL&_synchronous=FULL&_foreign_keys=on&_busy_timeout=%d&_txlock=immediate",
		path, busyTimeout.Milliseconds())
}

func (s *Store) init(ctx context.Context, migs []migration) error {
	// The first connection runs the PRAGMAs; a file that is not a database
	// fails here.
	if err := s.db.PingContext(ctx); err != nil {
		return TranslateError(err)
	}
	// journal_mode=WAL falls back silently where WAL is impossible (no
	// shared memory, e.g. some network file systems); do not run on
	// without it.
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", TranslateError(err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not WAL: the file system may not support it", mode)
	}
	if err := migrate(ctx, s.db, s.path, migs, s.now, s.logger); err != nil {
		return err
	}
	// SQLite gives -wal and -shm the main file's mode, but fix them in
	// case they were left behind by something else.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := fixModeIfExists(s.path+suffix, s.logger); err != nil {
			return err
		}
	}
	return nil
}

// createOrFixMode creates path with mode 0600 if it does not exist and
// otherwise resets its mode to 0600 (chmod, so the umask does not matter).
func createOrFixMode(path string, logger *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return err
		}
		logger.Info("created metadata database", "path", path)
		// The umask may have taken bits from 0600.
		return os.Chmod(path, fileMode)
	case errors.Is(err, fs.ErrExist):
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%w: not a regular file (%v)", ErrInvalidArgument, fi.Mode().Type())
		}
		return fixModeIfExists(path, logger)
	default:
		return err
	}
}

func fixModeIfExists(path string, logger *slog.Logger) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == fileMode {
		return nil
	}
	logger.Warn("metadata database file had loose permissions; set to 0600", "path", path, "was", fi.Mode().Perm().String())
	if err := os.Chmod(path, fileMode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}

// Close closes the database. The last connection to close checkpoints the
// WAL into the main file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close metadata database %s: %w", s.path, err)
	}
	return nil
}

// DB is the underlying pool, for packages that keep their own tables in
// this database (added through migrations here). Transactions begun on it
// are BEGIN IMMEDIATE; map errors with TranslateError. The Store's own
// tables are written through its methods only (CountDLQ keeps its answer
// until one of them changes tier_dlq).
func (s *Store) DB() *sql.DB { return s.db }

// Path is the database file's absolute path.
func (s *Store) Path() string { return s.path }

// SchemaVersion is the highest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, s.db)
	if err != nil {
		return 0, fmt.Errorf("read schema version of %s: %w", s.path, err)
	}
	return v, nil
}

// closeRows closes rows and returns the error that ended the iteration.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return TranslateError(err)
}

// queryAll runs query and scans every row with scan. Errors are translated
// (TranslateError); callers add what they were listing.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, TranslateError(err)
	}
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, TranslateError(err)
		}
		out = append(out, v)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	return out, nil
}
