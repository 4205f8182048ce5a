package meta

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestOpenCreatesFilesWithMode0600(t *testing.T) {
	// A permissive umask must not widen the files, and a strict one must
	// not narrow them below what akidb needs.
	for _, umask := range []int{0o000, 0o077} {
		old := syscall.Umask(umask)
		_, path := openTest(t)
		syscall.Umask(old)
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if got := modeOf(t, p); got != 0o600 {
				t.Errorf("umask %03o: %s has mode %v, want 0600", umask, filepath.Base(p), got)
			}
		}
	}
}

func TestOpenFixesLooseMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(context.Background(), path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(context.Background(), path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := modeOf(t, path); got != 0o600 {
		t.Fatalf("mode after reopen %v, want 0600", got)
	}
}

// The PRAGMAs come from the DSN, so every pooled connection must have
// them, not just the first. Hold several connections at once to see
// distinct ones.
func TestPragmasOnEveryConnection(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const n = 4
	for i := 0; i < n; i++ {
		conn, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var (
			journal             string
			synchronous, fk, bt int
		)
		if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&synchronous); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&bt); err != nil {
			t.Fatal(err)
		}
		if journal != "wal" {
			t.Errorf("conn %d: journal_mode %q, want wal", i, journal)
		}
		if synchronous != 2 { // FULL
			t.Errorf("conn %d: synchronous %d, want 2 (FULL)", i, synchronous)
		}
		if fk != 1 {
			t.Errorf("conn %d: foreign_keys %d, want 1", i, fk)
		}
		if bt != int(DefaultBusyTimeout.Milliseconds()) {
			t.Errorf("conn %d: busy_timeout %d, want %d", i, bt, DefaultBusyTimeout.Milliseconds())
		}
	}
	if got := s.DB().Stats().OpenConnections; got < n {
		t.Fatalf("only %d connections open, want at least %d distinct ones", got, n)
	}
}

func TestMigrationsAppliedOnceAndIdempotentOnReopen(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	latest, err := LatestSchemaVersion()
	if err != nil {
		t.Fatal(err)
	}
	if latest < 1 {
		t.Fatalf("LatestSchemaVersion %d", latest)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, latest)
	}
	if _, err := s.CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}

	for i := 0; i < 2; i++ {
		s2, err := Open(ctx, path, testLogger(t))
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		var rows, distinct int
		if err := s2.DB().QueryRowContext(ctx, "SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&rows, &distinct); err != nil {
			t.Fatal(err)
		}
		if rows != latest || distinct != latest {
			t.Fatalf("reopen %d: schema_migrations has %d rows (%d distinct), want %d", i, rows, distinct, latest)
		}
		var name string
		var applied int64
		if err := s2.DB().QueryRowContext(ctx, "SELECT name, applied_at FROM schema_migrations WHERE version = 1").Scan(&name, &applied); err != nil {
			t.Fatal(err)
		}
		if name != "0001_catalog.sql" || applied != testNow.UnixMilli() {
			t.Fatalf("migration 1 recorded as %q at %d, want 0001_catalog.sql at %d", name, applied, testNow.UnixMilli())
		}
		// Data and the default tenant survive, once.
		ts, err := s2.ListTenants(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 2 || ts[0].Name != "acme" || ts[1].ID != DefaultTenantID {
			t.Fatalf("reopen %d: tenants %+v", i, ts)
		}
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	latest, _ := LatestSchemaVersion()
	if _, err := s.DB().ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, '9999_future.sql', 0)", latest+1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, err = Open(ctx, path, testLogger(t))
	var tooNew *SchemaTooNewError
	if !errors.As(err, &tooNew) {
		t.Fatalf("open newer db: got %v, want *SchemaTooNewError", err)
	}
	if tooNew.DBVersion != latest+1 || tooNew.BinaryVersion != latest || tooNew.Path != path {
		t.Fatalf("SchemaTooNewError %+v", tooNew)
	}
	for _, want := range []string{path, "newer akidb", "schema version"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestOpenRejectsQuestionMarkInPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "what?")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), filepath.Join(dir, FileName), nil)
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("got %v, want ErrInvalidArgument", err)
	}
}

func TestOpenRejectsDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), path, nil)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("got %v, want a not-a-regular-file error", err)
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", FileName)
	_, err := Open(context.Background(), path, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
}

func TestOpenCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Open(ctx, filepath.Join(t.TempDir(), FileName), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
