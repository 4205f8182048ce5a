package meta

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, body := range files {
		m[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return m
}

func openWith(t *testing.T, path string, files map[string]string) (*Store, error) {
	t.Helper()
	return Open(context.Background(), path, testLogger(t), WithClock(fixedClock), withMigrations(mapFS(files)))
}

func tableExists(t *testing.T, s *Store, name string) bool {
	t.Helper()
	var n int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// Adding a file is all a new table takes: a database at version 1 gets
// only the new migrations, in order, once.
func TestMigrationsAddingAFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	v1 := map[string]string{
		"0001_a.sql": "CREATE TABLE a (x INTEGER) STRICT;",
	}
	v3 := map[string]string{
		"0001_a.sql": v1["0001_a.sql"],
		// 0003 depends on 0002, and 0002 on 0001: order matters.
		"0002_b.sql": "ALTER TABLE a ADD COLUMN y INTEGER; CREATE TABLE b (z INTEGER) STRICT; INSERT INTO b VALUES (1);",
		"0003_c.sql": "INSERT INTO a (x, y) SELECT z, z + 1 FROM b;",
	}
	s, err := openWith(t, path, v1)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.SchemaVersion(ctx); v != 1 {
		t.Fatalf("version %d, want 1", v)
	}
	s.Close()

	for i := 0; i < 2; i++ { // the second open must apply nothing
		s, err = openWith(t, path, v3)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if v, _ := s.SchemaVersion(ctx); v != 3 {
			t.Fatalf("open %d: version %d, want 3", i, v)
		}
		var nb, na, y int
		if err := s.DB().QueryRow("SELECT (SELECT COUNT(*) FROM b), (SELECT COUNT(*) FROM a), (SELECT y FROM a)").Scan(&nb, &na, &y); err != nil {
			t.Fatal(err)
		}
		if nb != 1 || na != 1 || y != 2 {
			t.Fatalf("open %d: b has %d rows, a has %d rows with y=%d; want 1, 1, 2", i, nb, na, y)
		}
		s.Close()
	}
}

// A failing migration leaves the database at the version before it, with
// none of its statements applied.
func TestFailingMigrationRollsBackWhole(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	good := map[string]string{
		"0001_a.sql": "CREATE TABLE a (x INTEGER) STRICT;",
	}
	bad := map[string]string{
		"0001_a.sql":   good["0001_a.sql"],
		"0002_bad.sql": "CREATE TABLE c (z INTEGER) STRICT; INSERT INTO a VALUES (1); INSERT INTO nope VALUES (1);",
	}
	s, err := openWith(t, path, good)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	_, err = openWith(t, path, bad)
	if err == nil || !strings.Contains(err.Error(), "0002_bad.sql") || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("got %v, want an error naming 0002_bad.sql and the missing table", err)
	}

	s, err = openWith(t, path, good)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != 1 {
		t.Fatalf("version %d after failed migration, want 1", v)
	}
	if tableExists(t, s, "c") {
		t.Fatal("table c of the failed migration exists")
	}
	var n int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM a").Scan(&n); err != nil || n != 0 {
		t.Fatalf("a has %d rows (%v), want 0", n, err)
	}
}

func TestLoadMigrationsRejectsBadSets(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"gap":        {"0001_a.sql": "", "0003_c.sql": ""},
		"duplicate":  {"0001_a.sql": "", "0001_b.sql": ""},
		"no one":     {"0002_b.sql": ""},
		"zero":       {"0000_a.sql": "", "0001_b.sql": ""},
		"short name": {"1_a.sql": ""},
		"uppercase":  {"0001_A.sql": ""},
	} {
		if migs, err := loadMigrations(mapFS(files)); err == nil {
			t.Errorf("%s: loaded %d migrations, want an error", name, len(migs))
		}
	}
	// Non-.sql files are not migrations.
	migs, err := loadMigrations(mapFS(map[string]string{"0001_a.sql": "x", "README.md": "y"}))
	if err != nil || len(migs) != 1 || migs[0].version != 1 || migs[0].sql != "x" {
		t.Fatalf("got %+v, %v", migs, err)
	}
	// None at all is version 0.
	migs, err = loadMigrations(mapFS(nil))
	if err != nil || latestVersion(migs) != 0 {
		t.Fatalf("empty: %+v, %v", migs, err)
	}
}

func TestEmbeddedMigrationsLoad(t *testing.T) {
	migs, err := builtinMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 || migs[0].name != "0001_catalog.sql" {
		t.Fatalf("embedded migrations %+v", migs)
	}
}

func TestCatalogSchema(t *testing.T) {
	s, _ := openTest(t)
	for _, table := range []string{"schema_migrations", "tenants", "collections"} {
		if !tableExists(t, s, table) {
			t.Errorf("table %s missing", table)
		}
	}
	d, err := s.GetTenant(context.Background(), DefaultTenantID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "default" || d.CreatedAt.IsZero() {
		t.Fatalf("default tenant %+v", d)
	}
}
