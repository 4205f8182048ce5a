package meta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIntegrityCheckHealthy(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	for i := 0; i < 50; i++ {
		if _, err := s.InsertCollection(ctx, sampleCollection(DefaultTenantID, fmt.Sprintf("c%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	problems, err := s.IntegrityCheck(ctx)
	if err != nil || problems != nil {
		t.Fatalf("IntegrityCheck = %q, %v; want nil, nil", problems, err)
	}
}

// A row written with foreign keys off (as a sqlite3 shell would) is
// reported.
func TestIntegrityCheckForeignKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO collections VALUES
		('00000000-0000-4000-8000-000000000000', 'ghost', 'x', 1, 'l2', 1, 1, 'ready', 0, 'memory')`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = ON"); err != nil {
		t.Fatal(err)
	}
	problems, err := s.IntegrityCheck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "foreign key violation: collections") {
		t.Fatalf("problems %q, want one foreign key violation in collections", problems)
	}
}

// buildAndClose makes a database with some rows, checkpoints it fully into
// the main file, closes it, and returns the page size and the root pages
// of its tables and indexes.
func buildAndClose(t *testing.T, path string) (pageSize int64, roots map[string]int64) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path, testLogger(t), WithClock(fixedClock), WithRand(seededRand(2)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		tn, err := s.CreateTenant(ctx, fmt.Sprintf("tenant-%03d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.InsertCollection(ctx, sampleCollection(tn.ID, "docs")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DB().QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	roots = map[string]int64{}
	rows, err := s.DB().Query("SELECT name, rootpage FROM sqlite_schema WHERE rootpage > 0")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var root int64
		if err := rows.Scan(&name, &root); err != nil {
			t.Fatal(err)
		}
		roots[name] = root
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("-wal left after close: the main file may not hold every page")
	}
	return pageSize, roots
}

func overwrite(t *testing.T, path string, off int64, n int, seed uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(seed, seed))
	junk := make([]byte, n)
	for i := range junk {
		junk[i] = byte(r.Uint32())
	}
	if _, err := f.WriteAt(junk, off); err != nil {
		t.Fatal(err)
	}
}

// A destroyed header: Open fails, naming the file, with ErrCorrupt.
func TestOpenCorruptHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	buildAndClose(t, path)
	overwrite(t, path, 0, 100, 1) // the 100-byte database header
	_, err := Open(context.Background(), path, testLogger(t))
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open with a garbage header: %v, want ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q does not name the file", err)
	}
	t.Logf("error: %v", err)
}

// A destroyed index page: the database still opens (the migration check
// does not read it), IntegrityCheck reports the damage, and a query that
// walks the index fails with ErrCorrupt rather than returning wrong rows.
func TestIntegrityCheckCorruptIndexPage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	pageSize, roots := buildAndClose(t, path)
	root, ok := roots["sqlite_autoindex_tenants_2"] // UNIQUE(name)
	if !ok {
		t.Fatalf("no tenants name index among %v", roots)
	}
	overwrite(t, path, (root-1)*pageSize, int(pageSize), 2)

	s, err := Open(ctx, path, testLogger(t))
	if err != nil {
		// Acceptable too, as long as it says why.
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open: %v, want success or ErrCorrupt", err)
		}
		return
	}
	defer s.Close()
	problems, err := s.IntegrityCheck(ctx)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		t.Fatalf("IntegrityCheck error %v, want ErrCorrupt", err)
	}
	if err == nil && len(problems) == 0 {
		t.Fatal("IntegrityCheck found nothing wrong with a garbage index page")
	}
	t.Logf("IntegrityCheck: %d problems (first: %q), err %v", len(problems), first(problems), err)

	_, err = s.GetTenantByName(ctx, "tenant-100")
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("lookup through the damaged index: %v, want ErrCorrupt", err)
	}
}

// A table row whose name no longer matches its index entry (one byte
// changed, page structure intact): IntegrityCheck lists the mismatch as a
// problem rather than failing.
func TestIntegrityCheckReportsIndexMismatch(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	buildAndClose(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// In the tenants table the record's name follows its 36-byte id; in
	// the name index it does not. Change the table's copy.
	name := []byte("tenant-150")
	changed := false
	for off := 0; ; {
		i := bytes.Index(data[off:], name)
		if i < 0 {
			break
		}
		at := off + i
		if at >= 36 && ValidCollectionID(string(data[at-36:at])) {
			data[at+len(name)-1] = 'z'
			changed = true
			break
		}
		off = at + 1
	}
	if !changed {
		t.Fatal("tenant-150's row not found in the file")
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	problems, err := s.IntegrityCheck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 {
		t.Fatal("IntegrityCheck found nothing wrong")
	}
	if !strings.Contains(strings.Join(problems, "\n"), "sqlite_autoindex_tenants_2") {
		t.Fatalf("problems %q do not name the tenants name index", problems)
	}
	t.Logf("problems: %q", problems)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
