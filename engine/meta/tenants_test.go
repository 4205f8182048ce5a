package meta

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestTenantCRUD(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)

	acme, err := s.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !ValidCollectionID(acme.ID) || acme.Name != "acme" || !acme.CreatedAt.Equal(testNow) {
		t.Fatalf("created %+v", acme)
	}
	got, err := s.GetTenant(ctx, acme.ID)
	if err != nil || got != acme {
		t.Fatalf("GetTenant = %+v, %v; want %+v", got, err, acme)
	}
	got, err = s.GetTenantByName(ctx, "acme")
	if err != nil || got != acme {
		t.Fatalf("GetTenantByName = %+v, %v; want %+v", got, err, acme)
	}
	if _, err := s.CreateTenant(ctx, "zeta"); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tn := range list {
		names = append(names, tn.Name)
	}
	if strings.Join(names, ",") != "acme,default,zeta" {
		t.Fatalf("ListTenants names %v", names)
	}

	if err := s.DeleteTenant(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTenant(ctx, acme.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetTenant after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteTenant(ctx, acme.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DeleteTenant: %v, want ErrNotFound", err)
	}
	// The name is free again.
	if _, err := s.CreateTenant(ctx, "acme"); err != nil {
		t.Fatalf("recreate: %v", err)
	}
}

func TestTenantErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)

	if _, err := s.CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateTenant(ctx, "acme")
	if !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate name: %v, want ErrAlreadyExists", err)
	}
	if !strings.Contains(err.Error(), `"acme"`) {
		t.Errorf("duplicate error %q does not name the tenant", err)
	}
	if _, err := s.CreateTenant(ctx, "default"); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("name of the default tenant: %v, want ErrAlreadyExists", err)
	}
	for _, bad := range []string{"", "a\x00b", "tab\there", string([]byte{0xff, 0xfe}), strings.Repeat("x", 256)} {
		if _, err := s.CreateTenant(ctx, bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("CreateTenant(%q): %v, want ErrInvalidArgument", bad, err)
		}
	}
	if _, err := s.GetTenant(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetTenant(nope): %v", err)
	}
	if _, err := s.GetTenantByName(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetTenantByName(nope): %v", err)
	}
	if err := s.DeleteTenant(ctx, DefaultTenantID); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("DeleteTenant(default): %v, want ErrInvalidArgument", err)
	}
}

func TestDeleteTenantWithCollections(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	tn, err := s.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.InsertCollection(ctx, sampleCollection(tn.ID, "docs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTenant(ctx, tn.ID); !errors.Is(err, ErrInUse) {
		t.Fatalf("DeleteTenant with a collection: %v, want ErrInUse", err)
	}
	if _, err := s.GetTenant(ctx, tn.ID); err != nil {
		t.Fatalf("tenant gone after refused delete: %v", err)
	}
	if err := s.MarkCollectionDropping(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCollection(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTenant(ctx, tn.ID); err != nil {
		t.Fatalf("DeleteTenant once empty: %v", err)
	}
}
