package meta

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"time"
)

//go:embed migrations/*.sql
var embeddedMigrations embed.FS

// migrationName is NNNN_what.sql; NNNN is the version.
var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

type migration struct {
	version int
	name    string // file name, recorded in schema_migrations
	sql     string
}

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT`

// builtinMigrations returns the migrations embedded in this binary.
func builtinMigrations() ([]migration, error) {
	sub, err := fs.Sub(embeddedMigrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("embedded migrations: %w", err)
	}
	return loadMigrations(sub)
}

// LatestSchemaVersion is the highest schema version this binary knows (the
// number of its newest migration file).
func LatestSchemaVersion() (int, error) {
	migs, err := builtinMigrations()
	if err != nil {
		return 0, err
	}
	return latestVersion(migs), nil
}

// loadMigrations reads every *.sql file at the root of fsys. Their versions
// must run 1, 2, 3, ... without gaps or duplicates: a hole would mean a
// file lost in a merge, and applying around it would be worse than failing.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	migs := make([]migration, 0, len(names))
	for _, name := range names {
		match := migrationName.FindStringSubmatch(path.Base(name))
		if match == nil {
			return nil, fmt.Errorf("migration file %s: name is not NNNN_name.sql", name)
		}
		version, _ := strconv.Atoi(match[1]) // four digits: cannot fail
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		migs = append(migs, migration{version: version, name: name, sql: string(body)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d (versions must run 1, 2, 3, ... without gaps or duplicates)",
				m.name, i+1)
		}
	}
	return migs, nil
}

func latestVersion(migs []migration) int {
	if len(migs) == 0 {
		return 0
	}
	return migs[len(migs)-1].version
}

// querier is what schemaVersion needs: a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, TranslateError(err)
	}
	return v, nil
}

// migrate brings db up to the newest of migs, one transaction per
// migration so that a failing one leaves the database at the version
// before it, whole. It refuses a database newer than migs.
func migrate(ctx context.Context, db *sql.DB, dbPath string, migs []migration, now func() time.Time, logger *slog.Logger) error {
	if _, err := db.ExecContext(ctx, createSchemaMigrations); err != nil {
		return fmt.Errorf("create schema_migrations: %w", TranslateError(err))
	}
	current, err := schemaVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	latest := latestVersion(migs)
	if current > latest {
		return &SchemaTooNewError{Path: dbPath, DBVersion: current, BinaryVersion: latest}
	}
	for _, m := range migs {
		if m.version <= current {
			continue
		}
		if err := applyMigration(ctx, db, m, now); err != nil {
			return err
		}
		logger.Info("applied metadata schema migration", "db", dbPath, "version", m.version, "name", m.name)
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration, now func() time.Time) (err error) {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see dsn)
	if err != nil {
		return fmt.Errorf("migration %s: begin: %w", m.name, TranslateError(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// Read the version again under the write lock: the data-dir lock keeps
	// other akidb processes out, but not, say, a sqlite3 shell.
	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if current != m.version-1 {
		return fmt.Errorf("migration %s: database moved to schema version %d meanwhile", m.name, current)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, TranslateError(err))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, now().UnixMilli()); err != nil {
		return fmt.Errorf("migration %s: record: %w", m.name, TranslateError(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.name, TranslateError(err))
	}
	return nil
}
