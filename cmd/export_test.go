package cmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/export"
)

// exportFixture makes a data directory with a cosine collection in the
// default tenant and an L2 one in tenant "acme", both named "docs", and
// returns the records each should export.
func exportFixture(t *testing.T) (dir string, want map[string][]engine.Record) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	db, err := engine.Open(dir, engine.Config{SegmentSize: 32 << 10}) // small segments: quick to compare byte for byte
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acme, err := db.Meta().CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	want = map[string][]engine.Record{}
	for _, tc := range []struct {
		tenant, key string
		metric      distance.Metric
	}{{engine.DefaultTenant, "default", distance.Cosine}, {acme.ID, "acme", distance.L2}} {
		if _, err := db.CreateCollection(ctx, tc.tenant, engine.CollectionConfig{Name: "docs", Dimension: 3, Metric: tc.metric}); err != nil {
			t.Fatal(err)
		}
		h, err := db.Collection(tc.tenant, "docs")
		if err != nil {
			t.Fatal(err)
		}
		var recs []engine.Record
		for i := range 50 {
			recs = append(recs, engine.Record{ID: fmt.Sprintf("%s-%d", tc.key, i), Vector: []float32{float32(i), 1, -2}, Metadata: map[string]any{"i": float64(i), "who": tc.key}})
		}
		if err := h.Upsert(ctx, recs); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Delete(ctx, []string{tc.key + "-7"}); err != nil {
			t.Fatal(err)
		}
		page, err := h.Scroll("", 100, true)
		if err != nil {
			t.Fatal(err)
		}
		want[tc.key] = page.Records
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, want
}

type exportedRow struct {
	ID       string    `parquet:"id"`
	Vector   []float32 `parquet:"vector,list"`
	Metadata string    `parquet:"metadata"`
}

func readExported(t *testing.T, path string) ([]exportedRow, map[string]string) {
	t.Helper()
	rows, err := parquet.ReadFile[exportedRow](path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string]string{}
	for _, e := range pf.Metadata().KeyValueMetadata {
		kv[e.Key] = e.Value
	}
	return rows, kv
}

func TestExportCommandWritesParquet(t *testing.T) {
	dir, want := exportFixture(t)
	out := filepath.Join(t.TempDir(), "docs.parquet")
	code, stdout, stderr := runCLI(t, nil, "export", "--collection", "docs", "--format", "parquet", "--out", out, "--data-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows, kv := readExported(t, out)
	if len(rows) != len(want["default"]) {
		t.Fatalf("%d rows, want %d", len(rows), len(want["default"]))
	}
	for i, w := range want["default"] {
		var meta map[string]any
		if err := json.Unmarshal([]byte(rows[i].Metadata), &meta); err != nil {
			t.Fatal(err)
		}
		if rows[i].ID != w.ID || fmt.Sprint(rows[i].Vector) != fmt.Sprint(w.Vector) || meta["i"] != w.Metadata["i"] {
			t.Fatalf("row %d: %+v, want %+v", i, rows[i], w)
		}
	}
	if kv[export.KeyTenant] != engine.DefaultTenant || kv[export.KeyMetric] != "cosine" || kv[export.KeySeq] != "2" || kv[export.KeyNormalized] != "true" {
		t.Fatalf("key-value metadata %v", kv)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if !strings.Contains(stdout, "exported 49 records of default/docs at seq 2") || !strings.Contains(stdout, hex.EncodeToString(sum[:])) {
		t.Fatalf("stdout %q", stdout)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Fatalf("export mode %v, want 0600", fi.Mode().Perm())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*tmp*")); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}

	// Another tenant's collection of the same name, by tenant name; JSON
	// summary; --format defaults to parquet.
	out2 := filepath.Join(t.TempDir(), "acme.parquet")
	code, stdout, stderr = runCLI(t, nil, "export", "--collection", "docs", "--tenant", "acme", "--out", out2, "--data-dir", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s exportSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	rows, kv = readExported(t, out2)
	if s.Rows != 49 || s.Collection != "docs" || s.Format != "parquet" || len(rows) != 49 || rows[0].ID != "acme-0" || kv[export.KeyMetric] != "l2" || kv[export.KeyTenant] != s.Tenant {
		t.Fatalf("acme export: summary %+v, %d rows, kv %v", s, len(rows), kv)
	}
}

func TestExportCommandRefusals(t *testing.T) {
	dir, _ := exportFixture(t)
	tmp := t.TempDir()
	existing := filepath.Join(tmp, "exists.parquet")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "new.parquet")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown collection", []string{"--collection", "nope", "--out", out}, `collection "nope" in tenant default: not found (the tenant's collections: docs)`},
		{"unknown tenant", []string{"--collection", "docs", "--tenant", "nobody", "--out", out}, `tenant "nobody": not found`},
		{"unknown format", []string{"--collection", "docs", "--format", "csv", "--out", out}, `--format "csv" is not supported: use parquet`},
		{"no collection", []string{"--out", out}, "--collection is required"},
		{"no out", []string{"--collection", "docs"}, "--out is required"},
		{"bad collection name", []string{"--collection", "../x", "--out", out}, "not a valid name"},
		{"existing out", []string{"--collection", "docs", "--out", existing}, "already exists: pass --force to overwrite it"},
		{"out is a directory", []string{"--collection", "docs", "--out", tmp, "--force"}, "is a directory"},
		{"out inside the data dir", []string{"--collection", "docs", "--out", filepath.Join(dir, "akidb.db"), "--force"}, "is inside the data directory"},
		{"out in a missing directory", []string{"--collection", "docs", "--out", filepath.Join(tmp, "no", "x.parquet")}, "no such file or directory"},
		{"bad row group size", []string{"--collection", "docs", "--out", out, "--row-group-bytes", "0"}, "--row-group-bytes must be positive"},
		{"not a data dir", []string{"--collection", "docs", "--out", out, "--data-dir", t.TempDir()}, "is it an akidb data directory?"},
		{"missing data dir", []string{"--collection", "docs", "--out", out, "--data-dir", filepath.Join(tmp, "nodata")}, "no data directory at"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"export"}, tc.args...)
			if !slices.Contains(tc.args, "--data-dir") {
				args = append(args, "--data-dir", dir)
			}
			code, _, stderr := runCLI(t, nil, args...)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want an error containing %q", code, stderr, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("%s was written", out)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Fatal("a refused export changed the existing file")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(tmp, ".*tmp*")); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
	// --force replaces it.
	if code, _, stderr := runCLI(t, nil, "export", "--collection", "docs", "--out", existing, "--force", "--data-dir", dir); code != 0 {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	if rows, _ := readExported(t, existing); len(rows) != 49 {
		t.Fatalf("--force wrote %d rows", len(rows))
	}
}

// While a server holds the data directory, export refuses and says why.
func TestExportCommandRefusesWhileServerRuns(t *testing.T) {
	dir, _ := exportFixture(t)
	db, err := engine.Open(dir, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := filepath.Join(t.TempDir(), "x.parquet")
	code, _, stderr := runCLI(t, nil, "export", "--collection", "docs", "--out", out, "--data-dir", dir)
	if code == 0 || !strings.Contains(stderr, "is in use by another akidb process") || !strings.Contains(stderr, "stop the server first") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("an export was written")
	}
}

// The export leaves the data directory byte for byte as it was.
func TestExportCommandChangesNothingInTheDataDir(t *testing.T) {
	dir, _ := exportFixture(t)
	snapshot := func() map[string]string {
		m := map[string]string{}
		err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if fi.IsDir() {
				m[path] = "dir"
				return nil
			}
			b, err := os.ReadFile(path)
			m[path] = fmt.Sprintf("%x %v", sha256.Sum256(b), fi.Mode())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := snapshot()
	out := filepath.Join(t.TempDir(), "x.parquet")
	if code, _, stderr := runCLI(t, nil, "export", "--collection", "docs", "--out", out, "--data-dir", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	after := snapshot()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("the data dir changed:\nbefore %v\nafter  %v", before, after)
	}
	if !bytes.HasPrefix(mustRead(t, out), []byte("PAR1")) {
		t.Fatal("not a Parquet file")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A failed write, or an --out that appears while exporting, leaves the
// target as it was and no temporary file behind.
func TestWriteFileAtomically(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.parquet")
	boom := fmt.Errorf("write failed")
	err := writeFileAtomically(target, false, func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed write: %v", err)
	}
	err = writeFileAtomically(target, false, func(w io.Writer) error {
		_, _ = w.Write([]byte("mine"))
		return os.WriteFile(target, []byte("someone else's"), 0o600)
	})
	if err == nil || !strings.Contains(err.Error(), "appeared while exporting") {
		t.Fatalf("target appeared meanwhile: %v", err)
	}
	if b := mustRead(t, target); string(b) != "someone else's" {
		t.Fatalf("target overwritten: %q", b)
	}
	if err := writeFileAtomically(target, true, func(w io.Writer) error {
		_, err := w.Write([]byte("forced"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b := mustRead(t, target); string(b) != "forced" {
		t.Fatalf("forced write: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files left: %v", entries)
	}
}
