package migrate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/migrate"
	"github.com/akidb/akidb/migrate/migratetest"
)

func TestMigrateStandardFixture(t *testing.T) {
	f := standard(t, 3500)
	before := v1Snapshot(t, f.Dir)
	target := filepath.Join(t.TempDir(), "v2")
	rep := run(t, options(f, target))
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if rep.Status != migrate.StatusMigrated || rep.ExitCode != 0 {
		t.Fatalf("status %s exit %d\n%s", rep.Status, rep.ExitCode, text.String())
	}
	assertUnchanged(t, before, v1Snapshot(t, f.Dir))
	checkV2(t, target, f)
	if rep.Totals.Records != int64(f.Records()) || rep.Load.Records != int64(f.Records()) {
		t.Fatalf("totals %+v load %+v, fixture has %d", rep.Totals, rep.Load, f.Records())
	}
	for _, c := range rep.Verification.Collections {
		if !c.OK || c.Queries == 0 || c.Recall < migrate.MinRecall {
			t.Fatalf("verification %+v", c)
		}
	}
	out := text.String()
	for _, want := range []string{
		`Acme_Corp <- "Acme Corp"`, `default-2 <- "default"`, "n_code_Tenant", "has characters v2 does not accept",
		"umbrella", "skipped: deleted in v1 (pass --include-deleted-tenants",
		"suspended in v1", "max_concurrent_searches=8: v2 has no equivalent",
		"qps_limit=50 max_collections=10 max_vectors=1000000 max_storage_bytes=1073741824",
		"api_rate_limit_per_second 20000 is outside v2's range",
		"max_vectors_per_collection=5000: v2 has no per-collection limit",
		`"billing_plan":"enterprise"`, "株式会社ユニコード",
		`globex/my_docs <- `, `renamed from "ドキュメント"`, "API keys are not migrated", "bootstrap admin key",
		"tenant initech holds", "result: migrated and verified",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	// Quotas in the catalog.
	db, err := engine.Open(target, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	acme, err := db.Meta().GetTenantByName(bg, "Acme_Corp")
	if err != nil {
		t.Fatal(err)
	}
	q, err := db.Meta().GetQuota(bg, acme.ID)
	if err != nil || q.QPSLimit == nil || *q.QPSLimit != 50 || *q.MaxVectors != 1000000 || *q.MaxCollections != 10 || *q.MaxStorageBytes != 1<<30 || q.Burst != nil {
		t.Fatalf("acme quota %+v %v", q, err)
	}
	if _, err := db.Meta().GetTenantByName(bg, "umbrella"); err == nil {
		t.Fatal("a deleted tenant was migrated")
	}
	_ = db.Close()
	// The state is done and the report is kept beside the data.
	data, err := os.ReadFile(filepath.Join(target, migrate.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	var saved migrate.Report
	if err := json.Unmarshal(data, &saved); err != nil || saved.Status != migrate.StatusMigrated {
		t.Fatalf("saved report: %v %v", saved.Status, err)
	}
	st, err := os.ReadFile(filepath.Join(target, migrate.StateFile))
	if err != nil || !strings.Contains(string(st), `"phase": "done"`) {
		t.Fatalf("state file: %s %v", st, err)
	}
	// A second run into the same directory is refused...
	if _, err := migrate.Run(bg, options(f, target)); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second run: %v", err)
	}
	// ...and --resume on a finished migration only verifies again.
	o := options(f, target)
	o.Resume = true
	rep = run(t, o)
	if rep.Status != migrate.StatusMigrated || rep.Load != nil || !rep.Resumed {
		t.Fatalf("resume of a finished migration: %s load %+v", rep.Status, rep.Load)
	}
}

func TestIncludeDeletedTenants(t *testing.T) {
	f := standard(t, 700)
	o := options(f, filepath.Join(t.TempDir(), "v2"))
	o.IncludeDeletedTenants = true
	rep := run(t, o)
	if rep.ExitCode != 0 {
		t.Fatalf("exit %d", rep.ExitCode)
	}
	c := f.Collection("gone")
	c.V2Tenant, c.V2Name = "umbrella", "gone"
	checkV2(t, o.DataDir, f)
}

func TestSingleTenantDirectory(t *testing.T) {
	f, err := migratetest.SingleTenant(filepath.Join(t.TempDir(), "v1"), 900, 3)
	if err != nil {
		t.Fatal(err)
	}
	// A tenant_id in a single-tenant install's manifest is ignored.
	if err := os.WriteFile(filepath.Join(f.Dir, "collections", "alpha", "manifest.json"), migratetest.Manifest("alpha", 8, "cosine", migratetest.TenantAcme), 0o644); err != nil {
		t.Fatal(err)
	}
	before := v1Snapshot(t, f.Dir)
	o := options(f, filepath.Join(t.TempDir(), "v2"))
	rep := run(t, o)
	if rep.ExitCode != 0 || !rep.SingleTenant {
		t.Fatalf("exit %d single %v", rep.ExitCode, rep.SingleTenant)
	}
	checkV2(t, o.DataDir, f)
	assertUnchanged(t, before, v1Snapshot(t, f.Dir))
}

func TestDryRunWritesNothing(t *testing.T) {
	f := standard(t, 700)
	target := filepath.Join(t.TempDir(), "v2")
	o := options(f, target)
	o.DryRun = true
	rep := run(t, o)
	if rep.Status != migrate.StatusPlanned || rep.ExitCode != 0 || rep.Load != nil {
		t.Fatalf("clean dry run: %s exit %d", rep.Status, rep.ExitCode)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("dry run created the target: %v", err)
	}
	pos, err := migratetest.Corruptions()[0].Apply(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []migrate.OnInvalid{migrate.OnInvalidFail, migrate.OnInvalidSkip} {
		o.OnInvalid = mode
		rep = run(t, o)
		if rep.ExitCode != 1 || rep.Problems.Count != 1 || rep.Problems.List[0].Pos() != pos {
			t.Fatalf("%s dry run with a problem: exit %d problems %+v, want %s", mode, rep.ExitCode, rep.Problems, pos)
		}
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("dry run created the target: %v", err)
	}
}

// Every kind of bad input, in both modes: fail names FILE:LINE and writes
// nothing; skip leaves out exactly the bad part and migrates the rest.
func TestBadInput(t *testing.T) {
	for _, c := range migratetest.Corruptions() {
		for _, mode := range []migrate.OnInvalid{migrate.OnInvalidFail, migrate.OnInvalidSkip} {
			t.Run(c.Kind+"/"+string(mode), func(t *testing.T) {
				f := standard(t, 500)
				pos, err := c.Apply(f)
				if err != nil {
					t.Fatal(err)
				}
				before := v1Snapshot(t, f.Dir)
				target := filepath.Join(t.TempDir(), "v2")
				o := options(f, target)
				o.OnInvalid = mode
				rep := run(t, o)
				var text bytes.Buffer
				_ = rep.WriteText(&text)
				if rep.Problems.Count != 1 {
					t.Fatalf("%d problems, want 1:\n%s", rep.Problems.Count, text.String())
				}
				p := rep.Problems.List[0]
				if p.Pos() != pos || string(p.Kind) != c.Kind || string(p.Scope) != c.Scope {
					t.Fatalf("problem %s [%s %s], want %s [%s %s]", p, p.Kind, p.Scope, pos, c.Kind, c.Scope)
				}
				if !strings.Contains(text.String(), pos+": ") {
					t.Fatalf("text report does not show %s:\n%s", pos, text.String())
				}
				assertUnchanged(t, before, v1Snapshot(t, f.Dir))
				if mode == migrate.OnInvalidFail {
					if rep.Status != migrate.StatusPlanProblems || rep.ExitCode != 1 {
						t.Fatalf("fail mode: %s exit %d", rep.Status, rep.ExitCode)
					}
					if _, err := os.Stat(target); !os.IsNotExist(err) {
						t.Fatalf("fail mode wrote to the target: %v", err)
					}
					return
				}
				if rep.Status != migrate.StatusMigrated || rep.ExitCode != 0 {
					t.Fatalf("skip mode: %s exit %d\n%s", rep.Status, rep.ExitCode, text.String())
				}
				checkV2(t, target, f)
			})
		}
	}
}

func TestRefusals(t *testing.T) {
	f := standard(t, 300)
	t.Run("non-empty target", func(t *testing.T) {
		target := t.TempDir()
		if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := migrate.Run(bg, options(f, target))
		if err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("got %v", err)
		}
		o := options(f, target)
		o.Resume = true
		_, err = migrate.Run(bg, o)
		if err == nil || !strings.Contains(err.Error(), "not a migration this command started") {
			t.Fatalf("resume into a foreign directory: %v", err)
		}
	})
	t.Run("target inside v1", func(t *testing.T) {
		_, err := migrate.Run(bg, options(f, filepath.Join(f.Dir, "new")))
		if err == nil || !strings.Contains(err.Error(), "overlap") {
			t.Fatalf("got %v", err)
		}
		if _, err := os.Stat(filepath.Join(f.Dir, "new")); !os.IsNotExist(err) {
			t.Fatal("created a directory inside v1")
		}
	})
	t.Run("not a v1 directory", func(t *testing.T) {
		_, err := migrate.Run(bg, migrate.Options{V1Dir: t.TempDir(), DataDir: filepath.Join(t.TempDir(), "x")})
		if err == nil || !strings.Contains(err.Error(), "does not look like an AkiDB 1.x data directory") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, o := range []migrate.Options{{V1Dir: f.Dir}, {DataDir: "x"}, {V1Dir: f.Dir, DataDir: "x", Batch: -1}, {V1Dir: f.Dir, DataDir: "x", OnInvalid: "maybe"}} {
			rep, err := migrate.Run(bg, o)
			if err == nil || rep.ExitCode != migrate.ExitError {
				t.Fatalf("%+v: %v", o, err)
			}
		}
	})
}

// An interrupted run (its context cancelled at several points) resumes
// without duplicates or losses; a changed v1 directory is not resumed.
func TestInterruptAndResume(t *testing.T) {
	f := standard(t, 2000)
	for _, step := range []string{"state-created", "tenants", "collection:Acme_Corp/images", "batch:1", "batch:4", "saved:3", "loaded"} {
		t.Run(step, func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "v2")
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			o := options(f, target)
			o.Batch = 100
			o.Hook = func(s string) {
				if s == step {
					cancel()
				}
			}
			rep, err := migrate.Run(ctx, o)
			if step != "state-created" && step != "tenants" && !strings.HasPrefix(step, "collection:") && step != "loaded" {
				if !errors.Is(err, migrate.ErrInterrupted) || rep.Status != migrate.StatusInterrupted || rep.ExitCode != migrate.ExitError {
					t.Fatalf("interrupted run: %v %s", err, rep.Status)
				}
			}
			if err == nil && rep.Status == migrate.StatusMigrated {
				// Cancelled where nothing checks the context any more:
				// the run finished; resuming must still be harmless.
				t.Logf("run finished despite the cancel at %s", step)
			}
			o.Hook = nil
			o.Resume = true
			rep = run(t, o)
			if rep.Status != migrate.StatusMigrated {
				var b bytes.Buffer
				_ = rep.WriteText(&b)
				t.Fatalf("resumed run: %s\n%s", rep.Status, b.String())
			}
			checkV2(t, target, f)
			// A collection the first run had started reads its v1 lines
			// again to verify; the resumed run saw only part of them.
			reread := 0
			for _, cc := range rep.Verification.Collections {
				if cc.V1Pass == migrate.V1PassReread {
					reread++
				}
			}
			if interrupted := strings.HasPrefix(step, "batch:") || strings.HasPrefix(step, "saved:") || step == "loaded"; interrupted && reread == 0 {
				t.Fatalf("no collection read v1 again after an interrupt at %s", step)
			}
		})
	}
	t.Run("v1 changed", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "v2")
		ctx, cancel := context.WithCancel(bg)
		o := options(f, target)
		o.Batch = 100
		o.Hook = func(s string) {
			if s == "batch:2" {
				cancel()
			}
		}
		if _, err := migrate.Run(ctx, o); !errors.Is(err, migrate.ErrInterrupted) {
			t.Fatal(err)
		}
		docs := filepath.Join(f.Dir, "collections", "docs", "vectors.jsonl")
		data, _ := os.ReadFile(docs)
		if err := os.WriteFile(docs, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		o.Hook, o.Resume = nil, true
		_, err := migrate.Run(bg, o)
		if err == nil || !strings.Contains(err.Error(), "collections/docs/vectors.jsonl") || !strings.Contains(err.Error(), "changed") {
			t.Fatalf("resume after v1 changed: %v", err)
		}
		o.OnInvalid = migrate.OnInvalidSkip
		if _, err := migrate.Run(bg, o); err == nil || !strings.Contains(err.Error(), "--on-invalid=fail") {
			t.Fatalf("resume with other options: %v", err)
		}
	})
}

// Verification catches a v2 that differs from v1.
func TestVerificationDetectsDifferences(t *testing.T) {
	f := standard(t, 700)
	target := filepath.Join(t.TempDir(), "v2")
	run(t, options(f, target))
	db, err := engine.Open(target, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := db.Meta().GetTenantByName(bg, "Acme_Corp")
	images, _ := db.Collection(tn.ID, "images")
	c := f.Collection("images")
	id := c.IDs()[0]
	v := append([]float32(nil), c.Final[id].Vector...)
	v[0] += 0.5
	if err := images.Upsert(bg, []engine.Record{{ID: id, Vector: v}}); err != nil {
		t.Fatal(err)
	}
	docs, _ := db.Collection(tn.ID, "docs")
	if _, err := docs.Delete(bg, []string{f.Collection("docs").IDs()[3]}); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	o := options(f, target)
	o.Resume = true
	rep := run(t, o)
	if rep.Status != migrate.StatusVerificationFailed || rep.ExitCode != 1 || rep.Verification.OK {
		t.Fatalf("status %s exit %d", rep.Status, rep.ExitCode)
	}
	for _, cc := range rep.Verification.Collections {
		switch cc.Collection {
		case "Acme_Corp/images":
			if cc.ChecksumOK || !cc.CountOK || cc.OK {
				t.Fatalf("images: %+v", cc)
			}
		case "Acme_Corp/docs":
			if cc.CountOK || cc.ChecksumOK || cc.OK {
				t.Fatalf("docs: %+v", cc)
			}
		default:
			if !cc.OK {
				t.Fatalf("%s: %+v", cc.Collection, cc)
			}
		}
	}
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	if !strings.Contains(b.String(), "verification FAILED") {
		t.Fatal(b.String())
	}
}

// The plan keeps the records it parsed within PlanCacheBytes, so loading
// parses each of those lines once; whatever the budget (none, part of the
// data, all of it), v2 ends up the same and verifies.
func TestPlanCacheBudgets(t *testing.T) {
	f := standard(t, 1200)
	for _, tc := range []struct {
		name  string
		bytes int64
		ok    func(once, total int64) bool
	}{
		{"none", -1, func(once, _ int64) bool { return once == 0 }},
		{"part", 32 << 10, func(once, total int64) bool { return once > 0 && once < total }},
		{"all", 0, func(once, total int64) bool { return once == total }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "v2")
			o := options(f, target)
			o.PlanCacheBytes = tc.bytes
			rep := run(t, o)
			if rep.Status != migrate.StatusMigrated || !rep.Verification.OK {
				t.Fatalf("status %s, verification %+v", rep.Status, rep.Verification)
			}
			if !tc.ok(rep.Load.ParsedOnce, rep.Load.Records) {
				t.Fatalf("%d of %d records parsed once", rep.Load.ParsedOnce, rep.Load.Records)
			}
			checkV2(t, target, f)
		})
	}
}
