package migratetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Corruption is one kind of bad input, added to a fixture by Corrupt.
type Corruption struct {
	// Kind is the problem kind the migrator must report (migrate.Kind).
	Kind string
	// Scope is what --on-invalid=skip leaves out (migrate.Scope).
	Scope string
	add   func(f *Fixture) (file string, line int, err error)
}

// Corruptions lists every kind of bad input the issue names, each a
// change to the standard fixture that adds something invalid and keeps
// everything valid as it was: with --on-invalid=skip the migration must
// give exactly the fixture's records.
func Corruptions() []Corruption {
	return []Corruption{
		{Kind: "malformed_json", Scope: "record", add: appendLine("docs", `{"id": "broken", "vector": [0.5, 1`)},
		{Kind: "wrong_dimension", Scope: "record", add: appendLine("images", `{"id": "short", "vector": [1, 2, 3]}`)},
		{Kind: "not_finite", Scope: "record", add: appendLine("legacy", `{"id": "nan", "vector": [`+strings.Repeat("1, ", 23)+`NaN]}`)},
		{Kind: "not_finite", Scope: "record", add: appendLine("images", `{"id": "inf", "vector": [-Infinity`+strings.Repeat(", 1", 11)+`]}`)},
		{Kind: "not_finite", Scope: "record", add: appendLine("my docs", `{"id": "huge", "vector": [1e39, 1, 1, 1, 1, 1, 1, 1]}`)},
		{Kind: "zero_vector", Scope: "record", add: appendLine("docs", `{"id": "zero", "vector": [`+strings.TrimSuffix(strings.Repeat("0, ", 16), ", ")+`]}`)},
		{Kind: "id_too_long", Scope: "record", add: appendLine("legacy", `{"id": "`+strings.Repeat("x", 300)+`", "vector": [`+strings.TrimSuffix(strings.Repeat("1, ", 24), ", ")+`]}`)},
		{Kind: "metadata_too_large", Scope: "record", add: appendLine("my docs", `{"id": "fat", "vector": [1, 1, 1, 1, 1, 1, 1, 1], "metadata": {"blob": "`+strings.Repeat("é", 40000)+`"}}`)},
		{Kind: "dimension_too_large", Scope: "collection", add: newCollection("wide", 5000, Manifest("wide", 5000, "l2", TenantAcme), "dimension")},
		{Kind: "duplicate_collection", Scope: "collection", add: newCollection("docs-copy", 16, Manifest("docs", 16, "cosine", TenantAcme), "name")},
		{Kind: "unknown_tenant", Scope: "collection", add: newCollection("orphan", 8, Manifest("orphan", 8, "l2", "tenant_99999999999999999999999999999999"), "tenant_id")},
	}
}

// Apply adds the corruption to the fixture's directory and returns the
// FILE:LINE the migrator must report.
func (c Corruption) Apply(f *Fixture) (string, error) {
	file, line, err := c.add(f)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s:%d", file, line), nil
}

// appendLine adds a line to a collection's vectors.jsonl.
func appendLine(dir, line string) func(f *Fixture) (string, int, error) {
	return func(f *Fixture) (string, int, error) {
		c := f.Collection(dir)
		path := filepath.Join(f.Dir, "collections", dir, "vectors.jsonl")
		out, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return "", 0, err
		}
		defer out.Close()
		if _, err := out.WriteString(line + "\n"); err != nil {
			return "", 0, err
		}
		c.Lines++
		return path, c.Lines, out.Close()
	}
}

// newCollection adds a collection directory whose manifest is the
// problem; its file:line is the line of key in the manifest.
func newCollection(dir string, dim int, manifest []byte, key string) func(f *Fixture) (string, int, error) {
	return func(f *Fixture) (string, int, error) {
		d := filepath.Join(f.Dir, "collections", dir)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", 0, err
		}
		path := filepath.Join(d, "manifest.json")
		if err := os.WriteFile(path, manifest, 0o644); err != nil {
			return "", 0, err
		}
		if err := os.WriteFile(filepath.Join(d, "vectors.jsonl"), []byte(`{"id": "a", "vector": [`+strings.TrimSuffix(strings.Repeat("1, ", dim), ", ")+`]}`+"\n"), 0o644); err != nil {
			return "", 0, err
		}
		line := 1
		for i, l := range strings.Split(string(manifest), "\n") {
			if strings.Contains(l, `"`+key+`"`) {
				line = i + 1
				break
			}
		}
		return path, line, nil
	}
}
