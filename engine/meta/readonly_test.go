package meta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// dirFiles is every file in dir by name.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func openReadOnly(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenReadOnly(context.Background(), path, testLogger(t))
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	return s
}

// A cleanly closed database is read without a byte or a file changing,
// and writes are refused. The directory name has characters a SQLite URI
// must escape.
func TestOpenReadOnlyChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir #1 &x=%20")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	ctx := context.Background()
	s, err := Open(ctx, path, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	tn, err := s.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := dirFiles(t, dir)
	ro := openReadOnly(t, path)
	if got, err := ro.GetTenantByName(ctx, "acme"); err != nil || got.ID != tn.ID {
		t.Fatalf("read tenant: %+v %v", got, err)
	}
	if _, err := ro.CreateTenant(ctx, "other"); err == nil {
		t.Fatal("a read-only store accepted a write")
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if after := dirFiles(t, dir); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Fatalf("the directory changed: %v before, %v after", keys(before), keys(after))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Transactions still in the write-ahead log (a writer that did not
// checkpoint) are read.
func TestOpenReadOnlyReadsTheWriteAheadLog(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	if _, err := s.CreateTenant(ctx, "in-wal"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("test setup: no write-ahead log content: %v", err)
	}
	ro := openReadOnly(t, path)
	defer ro.Close()
	if _, err := ro.GetTenantByName(ctx, "in-wal"); err != nil {
		t.Fatalf("tenant in the write-ahead log: %v", err)
	}
}

func TestOpenReadOnlyRefusesOtherSchemaVersions(t *testing.T) {
	builtin, err := fs.Sub(embeddedMigrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	all, err := fs.Glob(builtin, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	withFiles := func(names []string, extra map[string]string) fstest.MapFS {
		m := mapFS(extra)
		for _, n := range names {
			b, err := fs.ReadFile(builtin, n)
			if err != nil {
				t.Fatal(err)
			}
			m[n] = &fstest.MapFile{Data: b}
		}
		return m
	}
	ctx := context.Background()
	build := func(fsys fstest.MapFS) string {
		path := filepath.Join(t.TempDir(), FileName)
		s, err := Open(ctx, path, testLogger(t), withMigrations(fsys))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	older := build(withFiles(all[:1], nil))
	_, err = OpenReadOnly(ctx, older, nil)
	var outdated *SchemaOutdatedError
	if !errors.As(err, &outdated) || outdated.DBVersion != 1 || outdated.BinaryVersion != len(all) {
		t.Fatalf("older schema: %v", err)
	}
	newer := build(withFiles(all, map[string]string{fmt.Sprintf("%04d_future.sql", len(all)+1): "CREATE TABLE future (x INTEGER) STRICT;"}))
	_, err = OpenReadOnly(ctx, newer, nil)
	var tooNew *SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.DBVersion != len(all)+1 {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestOpenReadOnlyNeedsAnExistingFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, FileName)
	if _, err := OpenReadOnly(context.Background(), missing, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing file: %v, want ErrNotFound", err)
	}
	if len(dirFiles(t, dir)) != 0 {
		t.Fatal("OpenReadOnly created a file")
	}
	if _, err := OpenReadOnly(context.Background(), dir, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a directory: %v, want ErrInvalidArgument", err)
	}
	notDB := filepath.Join(dir, "not.db")
	if err := os.WriteFile(notDB, bytes.Repeat([]byte("not sqlite "), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReadOnly(context.Background(), notDB, nil); err == nil {
		t.Fatal("a file that is not a database was opened")
	}
}
