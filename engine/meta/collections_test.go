package meta

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/mattn/go-sqlite3"
)

func sampleCollection(tenantID, name string) Collection {
	return Collection{TenantID: tenantID, Name: name, Dimension: 128, Metric: "cosine", M: 16, EfConstruction: 200}
}

func TestCollectionCRUD(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)

	in := sampleCollection(DefaultTenantID, "docs")
	in.State = StateReady // ignored
	c, err := s.InsertCollection(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.ID = c.ID
	want.State = StateCreating
	want.CreatedAt = testNow
	want.TierPolicy = TierMemory // the default
	if !ValidCollectionID(c.ID) || c != want {
		t.Fatalf("inserted %+v, want %+v", c, want)
	}
	if got, err := s.GetCollection(ctx, DefaultTenantID, "docs"); err != nil || got != c {
		t.Fatalf("GetCollection = %+v, %v", got, err)
	}
	if got, err := s.GetCollectionByID(ctx, c.ID); err != nil || got != c {
		t.Fatalf("GetCollectionByID = %+v, %v", got, err)
	}

	// A caller-chosen id is kept.
	fixed := sampleCollection(DefaultTenantID, "images")
	fixed.ID = "3b241101-e2bb-4255-8caf-4136c566a962"
	fixed.Dimension, fixed.Metric, fixed.M, fixed.EfConstruction = 3, "l2", 8, 64
	c2, err := s.InsertCollection(ctx, fixed)
	if err != nil || c2.ID != fixed.ID {
		t.Fatalf("insert with id: %+v, %v", c2, err)
	}
	got, err := s.GetCollectionByID(ctx, fixed.ID)
	if err != nil || got.Dimension != 3 || got.Metric != "l2" || got.M != 8 || got.EfConstruction != 64 {
		t.Fatalf("stored %+v, %v", got, err)
	}
}

func TestCollectionErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	acme, err := s.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.InsertCollection(ctx, sampleCollection(DefaultTenantID, "docs"))
	if err != nil {
		t.Fatal(err)
	}

	// Same name, same tenant: refused, and the error keeps SQLite's own.
	_, err = s.InsertCollection(ctx, sampleCollection(DefaultTenantID, "docs"))
	if !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate name: %v, want ErrAlreadyExists", err)
	}
	var se sqlite3.Error
	if !errors.As(err, &se) || se.ExtendedCode != sqlite3.ErrConstraintUnique {
		t.Fatalf("duplicate name: %v does not carry the sqlite3 UNIQUE error", err)
	}
	// Same name, other tenant: fine.
	if _, err := s.InsertCollection(ctx, sampleCollection(acme.ID, "docs")); err != nil {
		t.Fatalf("same name in another tenant: %v", err)
	}
	// Same id: refused.
	dup := sampleCollection(DefaultTenantID, "other")
	dup.ID = c.ID
	if _, err := s.InsertCollection(ctx, dup); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate id: %v, want ErrAlreadyExists", err)
	}
	// The name stays taken while the collection is being dropped.
	if err := s.MarkCollectionDropping(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertCollection(ctx, sampleCollection(DefaultTenantID, "docs")); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("name of a dropping collection: %v, want ErrAlreadyExists", err)
	}

	// Unknown tenant.
	if _, err := s.InsertCollection(ctx, sampleCollection("nope", "docs")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant: %v, want ErrNotFound", err)
	}

	// Bad input.
	for name, mutate := range map[string]func(*Collection){
		"empty name":     func(c *Collection) { c.Name = "" },
		"empty tenant":   func(c *Collection) { c.TenantID = "" },
		"zero dimension": func(c *Collection) { c.Dimension = 0 },
		"empty metric":   func(c *Collection) { c.Metric = "" },
		"zero m":         func(c *Collection) { c.M = 0 },
		"negative ef":    func(c *Collection) { c.EfConstruction = -1 },
		"path id":        func(c *Collection) { c.ID = "../../etc" },
		"uppercase id":   func(c *Collection) { c.ID = "3B241101-E2BB-4255-8CAF-4136C566A962" },
	} {
		in := sampleCollection(DefaultTenantID, "fresh")
		mutate(&in)
		if _, err := s.InsertCollection(ctx, in); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}

	// Not found.
	if _, err := s.GetCollection(ctx, DefaultTenantID, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetCollection(nope): %v", err)
	}
	if _, err := s.GetCollection(ctx, acme.ID, "images"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetCollection(other tenant): %v", err)
	}
	missing := "00000000-0000-4000-8000-000000000000"
	if _, err := s.GetCollectionByID(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetCollectionByID(missing): %v", err)
	}
	if err := s.SetCollectionState(ctx, missing, StateReady); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetCollectionState(missing): %v", err)
	}
	if err := s.DeleteCollection(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeleteCollection(missing): %v", err)
	}
	if err := s.SetCollectionState(ctx, c.ID, "gone"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unknown state: %v, want ErrInvalidArgument", err)
	}
	if _, err := s.ListCollectionsByState(ctx, "gone"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("list unknown state: %v, want ErrInvalidArgument", err)
	}
}

func TestCollectionStateMachine(t *testing.T) {
	ctx := context.Background()
	states := []string{StateCreating, StateReady, StateDropping}
	allowed := map[[2]string]bool{
		{StateCreating, StateReady}:    true,
		{StateCreating, StateDropping}: true,
		{StateReady, StateDropping}:    true,
		// Same state: a no-op, so retried steps succeed.
		{StateCreating, StateCreating}: true,
		{StateReady, StateReady}:       true,
		{StateDropping, StateDropping}: true,
	}
	// path[from] brings a fresh collection into state from.
	path := map[string][]string{
		StateCreating: nil,
		StateReady:    {StateReady},
		StateDropping: {StateReady, StateDropping},
	}
	s, _ := openTest(t)
	n := 0
	for _, from := range states {
		for _, to := range states {
			n++
			c, err := s.InsertCollection(ctx, sampleCollection(DefaultTenantID, fmt.Sprintf("c%d", n)))
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range path[from] {
				if err := s.SetCollectionState(ctx, c.ID, st); err != nil {
					t.Fatalf("%s: setup to %s: %v", c.Name, st, err)
				}
			}
			err = s.SetCollectionState(ctx, c.ID, to)
			got, gerr := s.GetCollectionByID(ctx, c.ID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if allowed[[2]string{from, to}] {
				if err != nil || got.State != to {
					t.Errorf("%s -> %s: err %v, state %s; want allowed", from, to, err, got.State)
				}
			} else {
				if !errors.Is(err, ErrInvalidTransition) || got.State != from {
					t.Errorf("%s -> %s: err %v, state %s; want ErrInvalidTransition and state kept", from, to, err, got.State)
				}
			}
		}
	}

	// Delete: creating (rollback) and dropping (roll forward) only.
	for _, from := range states {
		n++
		c, err := s.InsertCollection(ctx, sampleCollection(DefaultTenantID, fmt.Sprintf("c%d", n)))
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range path[from] {
			if err := s.SetCollectionState(ctx, c.ID, st); err != nil {
				t.Fatal(err)
			}
		}
		err = s.DeleteCollection(ctx, c.ID)
		_, gerr := s.GetCollectionByID(ctx, c.ID)
		if from == StateReady {
			if !errors.Is(err, ErrInvalidTransition) || gerr != nil {
				t.Errorf("delete ready: err %v, get %v; want ErrInvalidTransition and the row kept", err, gerr)
			}
		} else if err != nil || !errors.Is(gerr, ErrNotFound) {
			t.Errorf("delete %s: err %v, get %v; want deleted", from, err, gerr)
		}
	}
}

// The create and drop protocol, and what startup recovery sees after a
// crash at each step.
func TestCollectionProtocolAndRecoveryListing(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	acme, err := s.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	// ready: a finished create.
	ready, _ := s.InsertCollection(ctx, sampleCollection(acme.ID, "a-ready"))
	if err := s.MarkCollectionReady(ctx, ready.ID); err != nil {
		t.Fatal(err)
	}
	// creating: crashed between insert and ready.
	creating, _ := s.InsertCollection(ctx, sampleCollection(DefaultTenantID, "b-creating"))
	// dropping: crashed between mark and delete.
	dropping, _ := s.InsertCollection(ctx, sampleCollection(acme.ID, "c-dropping"))
	if err := s.MarkCollectionReady(ctx, dropping.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkCollectionDropping(ctx, dropping.ID); err != nil {
		t.Fatal(err)
	}

	ids := func(cs []Collection, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, c := range cs {
			out = append(out, c.Name+"/"+c.State)
		}
		return out
	}
	check := func(what string, got, want []string) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	// Ordered by tenant id, then name; acme's id is random, so it may sort
	// either side of "default".
	all := []string{"a-ready/ready", "c-dropping/dropping", "b-creating/creating"}
	if acme.ID > DefaultTenantID {
		all = []string{"b-creating/creating", "a-ready/ready", "c-dropping/dropping"}
	}
	check("all", ids(s.ListCollections(ctx, "")), all)
	check("all by no state", ids(s.ListCollectionsByState(ctx)), all)
	check("acme", ids(s.ListCollections(ctx, acme.ID)), []string{"a-ready/ready", "c-dropping/dropping"})
	check("default", ids(s.ListCollections(ctx, DefaultTenantID)), []string{"b-creating/creating"})
	check("unknown tenant", ids(s.ListCollections(ctx, "nope")), []string{})
	pending := []string{"c-dropping/dropping", "b-creating/creating"}
	if acme.ID > DefaultTenantID {
		pending = []string{"b-creating/creating", "c-dropping/dropping"}
	}
	check("recovery", ids(s.ListCollectionsByState(ctx, StateCreating, StateDropping)), pending)
	check("ready", ids(s.ListCollectionsByState(ctx, StateReady)), []string{"a-ready/ready"})

	// Recovery: roll back creating, roll forward dropping.
	if err := s.DeleteCollection(ctx, creating.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCollection(ctx, dropping.ID); err != nil {
		t.Fatal(err)
	}
	check("after recovery", ids(s.ListCollectionsByState(ctx, StateCreating, StateDropping)), []string{})
	check("after recovery, all", ids(s.ListCollections(ctx, "")), []string{"a-ready/ready"})
}
