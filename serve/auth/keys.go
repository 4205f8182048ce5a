package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
)

// KeyInfo describes an API key without its secret: what List returns and
// what Create returns beside the key.
type KeyInfo struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant"`
	Role     Role   `json:"role"`
	Name     string `json:"name"`
	// Collections, if not empty, are the only collections the key reaches.
	Collections []string  `json:"collections,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"` // zero: never
	RevokedAt   time.Time `json:"revoked_at,omitzero"` // zero: not revoked
}

// Live reports whether the key works at now: not revoked, not expired.
func (k KeyInfo) Live(now time.Time) bool {
	return notLive(rowOf(k), now) == ""
}

// Caller is the caller the key speaks for.
func (k KeyInfo) Caller() api.Caller { return callerOf(rowOf(k)) }

func infoOf(row meta.APIKey) KeyInfo {
	k := KeyInfo{ID: row.ID, TenantID: row.TenantID, Role: Role(row.Role), Name: row.Name,
		CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt, RevokedAt: row.RevokedAt}
	if len(row.Collections) > 0 {
		k.Collections = append([]string(nil), row.Collections...)
	}
	return k
}

func rowOf(k KeyInfo) meta.APIKey {
	return meta.APIKey{ID: k.ID, TenantID: k.TenantID, Role: string(k.Role), Name: k.Name, Collections: k.Collections,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

// apiError maps the catalog's errors onto API errors; others come back
// wrapped, for api.AsError to call internal.
func apiError(what string, err error) error {
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return api.Errorf(api.CodeNotFound, "%s: not found", what)
	case errors.Is(err, meta.ErrInvalidArgument):
		return api.Errorf(api.CodeInvalidArgument, "%s: %v", what, err)
	case errors.Is(err, meta.ErrInvalidTransition):
		return api.Errorf(api.CodeInvalidArgument, "%s: the key is revoked or expired; create a new key instead", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Create makes a key of tenant with role, a name (may be empty), the
// collections it is limited to (none: all of the tenant's) and a lifetime
// (0: it never expires). It returns the key's description and the key
// itself, which is shown this once: only its hash is stored. An unknown
// tenant is not_found, a bad argument invalid_argument. Check the
// creator's right to grant it with AuthorizeKeyGrant first.
func (a *Authenticator) Create(ctx context.Context, tenant string, role Role, name string, collections []string, expiresIn time.Duration) (KeyInfo, APIKey, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return KeyInfo{}, "", err
	}
	if tenant == "" {
		return KeyInfo{}, "", api.Errorf(api.CodeInvalidArgument, "a key needs a tenant")
	}
	if expiresIn < 0 {
		return KeyInfo{}, "", api.Errorf(api.CodeInvalidArgument, "expires_in %v is negative", expiresIn)
	}
	id, key, hash, err := generateKey(a.lockedRand())
	if err != nil {
		return KeyInfo{}, "", err
	}
	now := a.now()
	row := meta.APIKey{ID: id, TenantID: tenant, Role: string(role), Name: name, SecretHash: hash,
		Collections: dedupe(collections), CreatedAt: now}
	if expiresIn > 0 {
		row.ExpiresAt = now.Add(expiresIn)
	}
	row, err = a.store.InsertAPIKey(ctx, row)
	if errors.Is(err, meta.ErrNotFound) {
		return KeyInfo{}, "", api.Errorf(api.CodeNotFound, "tenant %q not found", tenant)
	}
	if err != nil {
		return KeyInfo{}, "", apiError("create api key", err)
	}
	a.logger.Info("created api key", "key_id", row.ID, "tenant", row.TenantID, "role", row.Role, "name", row.Name)
	return infoOf(row), key, nil
}

// dedupe drops repeated names, keeping the first of each.
func dedupe(names []string) []string {
	seen := make(map[string]bool, len(names))
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// Get describes key id; not_found if there is none.
func (a *Authenticator) Get(ctx context.Context, id string) (KeyInfo, error) {
	row, err := a.store.GetAPIKey(ctx, id)
	if err != nil {
		return KeyInfo{}, apiError("api key "+id, err)
	}
	return infoOf(row), nil
}

// List describes the keys of tenant, or of every tenant when tenant is
// "", oldest first, revoked and expired ones included. It never returns
// a secret.
func (a *Authenticator) List(ctx context.Context, tenant string) ([]KeyInfo, error) {
	rows, err := a.store.ListAPIKeys(ctx, tenant)
	if err != nil {
		return nil, apiError("list api keys", err)
	}
	out := make([]KeyInfo, len(rows))
	for i, r := range rows {
		out[i] = infoOf(r)
	}
	return out, nil
}

// Revoke makes key id unusable from the next request on, for API key and
// tokens alike; not_found if there is none. Revoking a revoked key
// changes nothing. Check AuthorizeTenant(caller, ActionKeyRevoke,
// key.TenantID) first (Get gives the tenant).
func (a *Authenticator) Revoke(ctx context.Context, id string) (KeyInfo, error) {
	row, err := a.store.RevokeAPIKey(ctx, id, a.now())
	// Drop the cached row even if the update failed half way: the next
	// request reads the database.
	a.cache.invalidate(id)
	if err != nil {
		return KeyInfo{}, apiError("revoke api key "+id, err)
	}
	a.logger.Info("revoked api key", "key_id", row.ID, "tenant", row.TenantID)
	a.removeBootstrapFile(row.ID, "revoked")
	return infoOf(row), nil
}

// Rotation is the outcome of Rotate.
type Rotation struct {
	Old KeyInfo // the replaced key, with its new expiry or revocation
	New KeyInfo
	Key APIKey // the new key, shown this once
}

// Rotate replaces key id by a new key with the same tenant, role, name,
// collections and lifetime. The old key keeps working for overlap (its
// expiry becomes now+overlap, never later than it was), so clients can
// switch over; an overlap of 0 revokes it now. A revoked or expired key is
// invalid_argument, an unknown one not_found.
func (a *Authenticator) Rotate(ctx context.Context, id string, overlap time.Duration) (Rotation, error) {
	if overlap < 0 {
		return Rotation{}, api.Errorf(api.CodeInvalidArgument, "overlap %v is negative", overlap)
	}
	newID, key, hash, err := generateKey(a.lockedRand())
	if err != nil {
		return Rotation{}, err
	}
	now := a.now()
	old, created, err := a.store.RotateAPIKey(ctx, meta.RotateAPIKey{
		OldID:        id,
		New:          meta.APIKey{ID: newID, SecretHash: hash, CreatedAt: now},
		OldExpiresAt: now.Add(overlap),
	})
	a.cache.invalidate(id)
	if err != nil {
		return Rotation{}, apiError("rotate api key "+id, err)
	}
	a.logger.Info("rotated api key", "old_key_id", old.ID, "new_key_id", created.ID, "tenant", created.TenantID,
		"old_expires_at", old.ExpiresAt, "old_revoked_at", old.RevokedAt)
	a.removeBootstrapFile(old.ID, "rotated")
	return Rotation{Old: infoOf(old), New: infoOf(created), Key: key}, nil
}

// ForgetTenant drops the cached keys of tenantID. Deleting a tenant
// deletes its keys (ON DELETE CASCADE); call this right after, so that
// they stop working at once rather than within CacheTTL.
func (a *Authenticator) ForgetTenant(tenantID string) { a.cache.invalidateTenant(tenantID) }
