package migrate

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/migrate/migratetest"
)

// The v1 side of the verification computed while loading (a fresh run)
// equals the one computed by reading the v1 lines again (what a resumed
// run does): the same checksum and the same exact answers.
func TestV1SideWhileLoadingMatchesReread(t *testing.T) {
	ctx := context.Background()
	f, err := migratetest.Standard(filepath.Join(t.TempDir(), "v1"), 1500, 3)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{V1Dir: f.Dir, DataDir: filepath.Join(t.TempDir(), "v2"), VerifyQueries: 20, Workers: 2, Batch: 100,
		Engine: engine.Config{CommitDelay: -1, SegmentSize: 4 << 20}}.withDefaults()
	m := &migration{opts: o, rep: newReport(o)}
	if err := m.run(ctx); err != nil {
		t.Fatal(err)
	}
	if m.rep.Status != StatusMigrated {
		t.Fatalf("status %s", m.rep.Status)
	}
	checked := 0
	for _, c := range m.plan.Collections {
		if !c.Migrate || c.Records == 0 {
			continue
		}
		loaded := m.v1[c.Key()]
		if loaded == nil {
			t.Fatalf("%s: no v1 side computed while loading", c.Key())
		}
		again, err := m.readV1Side(ctx, c, loaded.queries)
		if err != nil {
			t.Fatal(err)
		}
		if loaded.sum != again.sum {
			t.Fatalf("%s: checksum %s while loading, %s read again", c.Key(), loaded.sum, again.sum)
		}
		for q := range loaded.answers {
			a, b := loaded.answers[q].sorted(), again.answers[q].sorted()
			if len(a) != len(b) || len(a) == 0 {
				t.Fatalf("%s query %d: %d answers while loading, %d read again", c.Key(), q, len(a), len(b))
			}
			for i := range a {
				if a[i].dist != b[i].dist {
					t.Fatalf("%s query %d answer %d: %v while loading, %v read again", c.Key(), q, i, a[i], b[i])
				}
			}
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("only %d collections compared", checked)
	}
	for _, cc := range m.rep.Verification.Collections {
		if want := V1PassWhileLoading; cc.V1Records > 0 && cc.V1Pass != want {
			t.Errorf("%s: v1_pass %q, want %q", cc.Collection, cc.V1Pass, want)
		}
	}
}
