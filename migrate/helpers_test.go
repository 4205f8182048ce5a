package migrate_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/migrate"
	"github.com/akidb/akidb/migrate/migratetest"
)

var bg = context.Background()

func standard(t testing.TB, records int) *migratetest.Fixture {
	t.Helper()
	f, err := migratetest.Standard(filepath.Join(t.TempDir(), "v1"), records, 1)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func options(f *migratetest.Fixture, target string) migrate.Options {
	return migrate.Options{V1Dir: f.Dir, DataDir: target, VerifyQueries: 20, Workers: 2,
		Engine: engine.Config{CommitDelay: -1, SegmentSize: 4 << 20}}
}

func run(t testing.TB, o migrate.Options) *migrate.Report {
	t.Helper()
	rep, err := migrate.Run(bg, o)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return rep
}

func v1Snapshot(t testing.TB, dir string) map[string]string { return migratetest.Snapshot(t, dir) }

func assertUnchanged(t testing.TB, before, after map[string]string) {
	t.Helper()
	migratetest.AssertUnchanged(t, before, after)
}

func checkV2(t testing.TB, dataDir string, f *migratetest.Fixture) {
	t.Helper()
	migratetest.CheckV2(t, dataDir, f)
}
