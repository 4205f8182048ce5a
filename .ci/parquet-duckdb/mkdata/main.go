// Command mkdata writes a small data directory for the DuckDB check of
// `akidb export` (make test-parquet-duckdb) and, as JSON, the facts that
// check compares the exported file against, taken from the engine itself.
//
// The collection "docs" (cosine, 16-d) gets 1000 records across two
// checkpoints, then deletes and replacements, so the export must show the
// engine's current state and not a log of writes.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

type expectation struct {
	Tenant     string    `json:"tenant"`
	Collection string    `json:"collection"`
	Metric     string    `json:"metric"`
	Dimension  int       `json:"dimension"`
	Count      int       `json:"count"`
	Seq        uint64    `json:"seq"`
	ProbeID    string    `json:"probe_id"`
	ProbeTitle string    `json:"probe_title"`
	ProbeVec   []float64 `json:"probe_vector"` // float32 values, exactly
	Replaced   string    `json:"replaced_id"`
	ReplTitle  string    `json:"replaced_title"`
	Deleted    string    `json:"deleted_id"`
}

func main() {
	dir := flag.String("data-dir", "", "data directory to create (must not exist)")
	out := flag.String("expect", "", "file to write the expected facts to")
	flag.Parse()
	if err := run(*dir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkdata:", err)
		os.Exit(1)
	}
}

func run(dir, out string) error {
	if dir == "" || out == "" {
		return fmt.Errorf("-data-dir and -expect are required")
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s exists", dir)
	}
	ctx := context.Background()
	db, err := engine.Open(dir, engine.Config{})
	if err != nil {
		return err
	}
	const dim = 16
	if _, err := db.CreateCollection(ctx, engine.DefaultTenant, engine.CollectionConfig{Name: "docs", Dimension: dim, Metric: distance.Cosine}); err != nil {
		return err
	}
	h, err := db.Collection(engine.DefaultTenant, "docs")
	if err != nil {
		return err
	}
	for batch := 0; batch < 10; batch++ {
		recs := make([]engine.Record, 100)
		for i := range recs {
			n := batch*100 + i
			v := make([]float32, dim)
			for j := range v {
				v[j] = float32(math.Sin(float64(n*dim+j))) + 0.1
			}
			recs[i] = engine.Record{ID: fmt.Sprintf("doc-%04d", n), Vector: v,
				Metadata: map[string]any{"title": fmt.Sprintf("Document %d", n), "n": n, "tags": []any{"even", n%2 == 0}}}
		}
		if err := h.Upsert(ctx, recs); err != nil {
			return err
		}
		if batch == 4 {
			if err := h.Checkpoint(); err != nil {
				return err
			}
		}
	}
	if _, err := h.Delete(ctx, []string{"doc-0007", "doc-0500"}); err != nil {
		return err
	}
	repl := engine.Record{ID: "doc-0042", Vector: make([]float32, dim), Metadata: map[string]any{"title": "Replaced <42> & \"quoted\""}}
	repl.Vector[3] = 2
	if err := h.Upsert(ctx, []engine.Record{repl}); err != nil {
		return err
	}
	probe, err := h.Get("doc-0123")
	if err != nil {
		return err
	}
	e := expectation{
		Tenant: engine.DefaultTenant, Collection: "docs", Metric: "cosine", Dimension: dim,
		Count: h.Count(), Seq: h.Stats().AppliedSeq,
		ProbeID: probe.ID, ProbeTitle: probe.Metadata["title"].(string),
		Replaced: repl.ID, ReplTitle: repl.Metadata["title"].(string), Deleted: "doc-0500",
	}
	for _, x := range probe.Vector {
		e.ProbeVec = append(e.ProbeVec, float64(x))
	}
	if err := db.Close(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o600)
}
