package meta

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func sampleKey(id, tenantID string) APIKey {
	return APIKey{ID: id, TenantID: tenantID, Role: RoleWriter, Name: "ci", SecretHash: bytes.Repeat([]byte{7}, SecretHashLen)}
}

func TestAPIKeyCRUD(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)

	if n, err := s.CountAPIKeys(ctx); err != nil || n != 0 {
		t.Fatalf("count on a new database = %d, %v", n, err)
	}
	in := sampleKey("aaaaaaaaaaaaaaaa", DefaultTenantID)
	in.Collections = []string{"docs", "images"}
	in.ExpiresAt = testNow.Add(time.Hour)
	in.RevokedAt = testNow // ignored
	k, err := s.InsertAPIKey(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !k.CreatedAt.Equal(testNow.Truncate(time.Millisecond)) || !k.RevokedAt.IsZero() {
		t.Fatalf("inserted %+v", k)
	}
	got, err := s.GetAPIKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, k) {
		t.Fatalf("get %+v\nwant %+v", got, k)
	}

	// No collections reads back as an empty list, not nil.
	k2, err := s.InsertAPIKey(ctx, sampleKey("bbbbbbbbbbbbbbbb", DefaultTenantID))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetAPIKey(ctx, k2.ID); got.Collections == nil || len(got.Collections) != 0 || !got.ExpiresAt.IsZero() {
		t.Fatalf("key without collections or expiry read back as %+v", got)
	}

	if _, err := s.InsertAPIKey(ctx, sampleKey("aaaaaaaaaaaaaaaa", DefaultTenantID)); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate id: %v", err)
	}
	if _, err := s.InsertAPIKey(ctx, sampleKey("cccccccccccccccc", "nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, err := s.GetAPIKey(ctx, "zzzzzzzzzzzzzzzz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}

	tn, err := s.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertAPIKey(ctx, sampleKey("dddddddddddddddd", tn.ID)); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListAPIKeys(ctx, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("list all: %d keys, %v", len(all), err)
	}
	mine, err := s.ListAPIKeys(ctx, tn.ID)
	if err != nil || len(mine) != 1 || mine[0].ID != "dddddddddddddddd" {
		t.Fatalf("list acme: %+v, %v", mine, err)
	}

	// Revoking is idempotent and keeps the first time.
	r1, err := s.RevokeAPIKey(ctx, k.ID, testNow.Add(time.Minute))
	if err != nil || !r1.RevokedAt.Equal(testNow.Add(time.Minute).Truncate(time.Millisecond)) {
		t.Fatalf("revoke: %+v, %v", r1, err)
	}
	r2, err := s.RevokeAPIKey(ctx, k.ID, testNow.Add(time.Hour))
	if err != nil || !r2.RevokedAt.Equal(r1.RevokedAt) {
		t.Fatalf("second revoke: %+v, %v", r2, err)
	}
	if _, err := s.RevokeAPIKey(ctx, "zzzzzzzzzzzzzzzz", testNow); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}

	// Deleting a tenant deletes its keys.
	if err := s.DeleteTenant(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAPIKey(ctx, "dddddddddddddddd"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key of a deleted tenant: %v", err)
	}
	if n, err := s.CountAPIKeys(ctx); err != nil || n != 2 {
		t.Fatalf("count = %d, %v; want 2", n, err)
	}
}

func TestAPIKeyValidation(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	for name, mutate := range map[string]func(*APIKey){
		"short id":        func(k *APIKey) { k.ID = "abc" },
		"uppercase id":    func(k *APIKey) { k.ID = "AAAAAAAAAAAAAAAA" },
		"id with a digit": func(k *APIKey) { k.ID = "aaaaaaaaaaaaaaa1" },
		"no tenant":       func(k *APIKey) { k.TenantID = "" },
		"unknown role":    func(k *APIKey) { k.Role = "root" },
		"short hash":      func(k *APIKey) { k.SecretHash = []byte{1} },
		"control in name": func(k *APIKey) { k.Name = "a\nb" },
		"empty collection": func(k *APIKey) {
			k.Collections = []string{""}
		},
		"too many collections": func(k *APIKey) { k.Collections = make([]string, maxKeyCollections+1) },
	} {
		k := sampleKey("aaaaaaaaaaaaaaaa", DefaultTenantID)
		mutate(&k)
		if _, err := s.InsertAPIKey(ctx, k); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	// The table's CHECKs back the validation up against other writers.
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO api_keys (id, tenant_id, role, name, secret_hash, collections, created_at)
VALUES ('aaaaaaaaaaaaaaaa', 'default', 'root', '', zeroblob(32), '[]', 0)`); err == nil {
		t.Fatal("a row with an unknown role was accepted")
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO api_keys (id, tenant_id, role, name, secret_hash, collections, created_at)
VALUES ('aaaaaaaaaaaaaaaa', 'default', 'admin', '', zeroblob(32), '{"a":1}', 0)`); err == nil {
		t.Fatal("a row whose collections are not a JSON array was accepted")
	}
}

func TestRotateAPIKey(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	old := sampleKey("aaaaaaaaaaaaaaaa", DefaultTenantID)
	old.Collections = []string{"docs"}
	old.CreatedAt = testNow
	old.ExpiresAt = testNow.Add(30 * 24 * time.Hour)
	if _, err := s.InsertAPIKey(ctx, old); err != nil {
		t.Fatal(err)
	}
	later := testNow.Add(24 * time.Hour)
	newHash := bytes.Repeat([]byte{9}, SecretHashLen)
	o, n, err := s.RotateAPIKey(ctx, RotateAPIKey{
		OldID:        old.ID,
		New:          APIKey{ID: "bbbbbbbbbbbbbbbb", SecretHash: newHash, CreatedAt: later, Role: RoleAdmin /* ignored */},
		OldExpiresAt: later.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	ms := func(t time.Time) time.Time { return t.Truncate(time.Millisecond) }
	if !o.ExpiresAt.Equal(ms(later.Add(time.Hour))) || !o.RevokedAt.IsZero() {
		t.Fatalf("old after rotation %+v", o)
	}
	if n.TenantID != old.TenantID || n.Role != old.Role || n.Name != old.Name || !reflect.DeepEqual(n.Collections, old.Collections) ||
		!n.ExpiresAt.Equal(ms(later.Add(30*24*time.Hour))) || !bytes.Equal(n.SecretHash, newHash) {
		t.Fatalf("new key %+v", n)
	}
	if got, _ := s.GetAPIKey(ctx, old.ID); !reflect.DeepEqual(got, o) {
		t.Fatalf("stored old %+v, returned %+v", got, o)
	}
	if got, _ := s.GetAPIKey(ctx, n.ID); !reflect.DeepEqual(got, n) {
		t.Fatalf("stored new %+v, returned %+v", got, n)
	}

	// An overlap never lengthens a key's life.
	o2, _, err := s.RotateAPIKey(ctx, RotateAPIKey{OldID: n.ID,
		New: APIKey{ID: "cccccccccccccccc", SecretHash: newHash, CreatedAt: later}, OldExpiresAt: later.Add(365 * 24 * time.Hour)})
	if err != nil || !o2.ExpiresAt.Equal(n.ExpiresAt) {
		t.Fatalf("rotation with a long overlap: %+v, %v", o2, err)
	}

	// No overlap revokes the old key now.
	o3, _, err := s.RotateAPIKey(ctx, RotateAPIKey{OldID: "cccccccccccccccc",
		New: APIKey{ID: "dddddddddddddddd", SecretHash: newHash, CreatedAt: later}, OldExpiresAt: later})
	if err != nil || !o3.RevokedAt.Equal(ms(later)) {
		t.Fatalf("rotation without overlap: %+v, %v", o3, err)
	}

	// A revoked or expired key cannot be rotated, and a failed rotation
	// leaves nothing behind.
	if _, _, err := s.RotateAPIKey(ctx, RotateAPIKey{OldID: "cccccccccccccccc",
		New: APIKey{ID: "eeeeeeeeeeeeeeee", SecretHash: newHash, CreatedAt: later}}); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("rotate revoked: %v", err)
	}
	if _, _, err := s.RotateAPIKey(ctx, RotateAPIKey{OldID: old.ID,
		New: APIKey{ID: "eeeeeeeeeeeeeeee", SecretHash: newHash, CreatedAt: later.Add(2 * time.Hour)}}); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("rotate expired: %v", err)
	}
	if _, _, err := s.RotateAPIKey(ctx, RotateAPIKey{OldID: "zzzzzzzzzzzzzzzz",
		New: APIKey{ID: "eeeeeeeeeeeeeeee", SecretHash: newHash}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rotate unknown: %v", err)
	}
	// A taken new id rolls the whole rotation back.
	if _, _, err := s.RotateAPIKey(ctx, RotateAPIKey{OldID: "dddddddddddddddd",
		New: APIKey{ID: "aaaaaaaaaaaaaaaa", SecretHash: newHash, CreatedAt: later}}); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("rotate onto a taken id: %v", err)
	}
	if got, _ := s.GetAPIKey(ctx, "dddddddddddddddd"); !got.RevokedAt.IsZero() {
		t.Fatalf("failed rotation revoked the old key: %+v", got)
	}
	if _, err := s.GetAPIKey(ctx, "eeeeeeeeeeeeeeee"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("failed rotation left key e: %v", err)
	}
}
