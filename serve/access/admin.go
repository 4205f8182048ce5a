package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
)

// The administration operations. Each runs after Begin admitted its
// action, for the caller in ctx, and scopes what it touches to that
// caller's tenant (an operator reaches every tenant): another tenant's
// key or events are not_found, as another tenant's collection is.

// metaError maps the catalog's sentinels onto API errors; anything else is
// wrapped for api.AsError to call internal.
func metaError(what string, err error) error {
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return api.Errorf(api.CodeNotFound, "%s: not found", what)
	case errors.Is(err, meta.ErrAlreadyExists):
		return api.Errorf(api.CodeAlreadyExists, "%s: already exists", what)
	case errors.Is(err, meta.ErrInUse):
		return api.Errorf(api.CodeFailedPrecondition, "%s: still in use", what)
	case errors.Is(err, meta.ErrInvalidArgument):
		return api.Errorf(api.CodeInvalidArgument, "%s: %v", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// hidden answers an action on another tenant's object exactly as one on
// an object nobody has: "<what>: not found", where what names the object
// as the caller referred to it. Without it the two answers differed (a
// bare "not found" against "tenant \"x\": not found"), which told a tenant's
// admin which other tenants and keys exist. Other errors pass unchanged.
func hidden(err error, what string) error {
	if ae := api.AsError(err); ae != nil && ae.Code == api.CodeNotFound {
		return api.Errorf(api.CodeNotFound, "%s: not found", what)
	}
	return err
}

func tenantWhat(ref string) string { return fmt.Sprintf("tenant %q", ref) }

func keyWhat(id string) string { return fmt.Sprintf("api key %q", id) }

func tenantOf(t meta.Tenant) Tenant { return Tenant{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt} }

// resolveTenant finds a tenant by id, then by name.
func resolveTenant(ctx context.Context, d *Deps, ref string) (meta.Tenant, error) {
	if ref == "" {
		return meta.Tenant{}, api.Errorf(api.CodeInvalidArgument, "a tenant id or name is required")
	}
	t, err := d.Store.GetTenant(ctx, ref)
	if errors.Is(err, meta.ErrNotFound) {
		t, err = d.Store.GetTenantByName(ctx, ref)
	}
	if err != nil {
		return meta.Tenant{}, metaError(fmt.Sprintf("tenant %q", ref), err)
	}
	return t, nil
}

// begin returns the dependencies and the caller of an admitted request.
func (g *Guard) begin(ctx context.Context) (*Deps, api.Caller, error) {
	d, err := g.dependencies()
	if err != nil {
		return nil, api.Caller{}, err
	}
	c, err := callerOf(ctx)
	if err != nil {
		return nil, api.Caller{}, err
	}
	return d, c, nil
}

// CreateTenant adds a tenant (operator only).
func (g *Guard) CreateTenant(ctx context.Context, req CreateTenantRequest) (Tenant, error) {
	d, c, err := g.begin(ctx)
	if err != nil {
		return Tenant{}, err
	}
	if err := auth.Authorize(c, auth.ActionTenantManage); err != nil {
		return Tenant{}, err
	}
	CallFrom(ctx).SetTarget(req.Name)
	t, err := d.Store.CreateTenant(ctx, req.Name)
	if err != nil {
		return Tenant{}, metaError(fmt.Sprintf("tenant %q", req.Name), err)
	}
	CallFrom(ctx).SetTarget(t.ID)
	return tenantOf(t), nil
}

// ListTenants lists every tenant by name (operator only).
func (g *Guard) ListTenants(ctx context.Context) (TenantList, error) {
	d, c, err := g.begin(ctx)
	if err != nil {
		return TenantList{}, err
	}
	if err := auth.Authorize(c, auth.ActionTenantManage); err != nil {
		return TenantList{}, err
	}
	rows, err := d.Store.ListTenants(ctx)
	if err != nil {
		return TenantList{}, metaError("list tenants", err)
	}
	out := TenantList{Tenants: make([]Tenant, len(rows))}
	for i, t := range rows {
		out.Tenants[i] = tenantOf(t)
	}
	return out, nil
}

// DeleteTenant deletes a tenant (by id or name; operator only) and, with
// it, its API keys. While it has collections it is refused
// (failed_precondition) unless force is set; force drops the collections
// first, through the engine, so their data goes the way a DELETE of each
// would. The default tenant cannot be deleted.
func (g *Guard) DeleteTenant(ctx context.Context, ref string, force bool) (TenantDeleted, error) {
	d, c, err := g.begin(ctx)
	if err != nil {
		return TenantDeleted{}, err
	}
	if err := auth.Authorize(c, auth.ActionTenantManage); err != nil {
		return TenantDeleted{}, err
	}
	CallFrom(ctx).SetTarget(ref)
	t, err := resolveTenant(ctx, d, ref)
	if err != nil {
		return TenantDeleted{}, err
	}
	CallFrom(ctx).SetTarget(t.ID)
	if t.ID == meta.DefaultTenantID {
		return TenantDeleted{}, api.Errorf(api.CodeInvalidArgument, "the %s tenant cannot be deleted", meta.DefaultTenantID)
	}
	out := TenantDeleted{ID: t.ID}
	if d.Collections != nil {
		cols := d.Collections.ListCollections(t.ID)
		if len(cols) > 0 && !force {
			return TenantDeleted{}, &api.Error{Code: api.CodeFailedPrecondition,
				Message: fmt.Sprintf("tenant %q has %d collection(s); delete them first, or force the deletion to drop them", t.Name, len(cols)),
				Details: map[string]any{"collections": len(cols)}}
		}
		for _, col := range cols {
			if err := d.Collections.DropCollection(ctx, t.ID, col.Name); err != nil && !errors.Is(err, engine.ErrNotFound) {
				return out, fmt.Errorf("delete tenant %s: drop collection %q: %w", t.ID, col.Name, err)
			}
			out.DroppedCollections = append(out.DroppedCollections, col.Name)
		}
	} else if force {
		return TenantDeleted{}, api.Errorf(api.CodeFailedPrecondition, "a forced tenant deletion drops collections, which needs the running server")
	}
	if err := d.Store.DeleteTenant(ctx, t.ID); err != nil {
		if errors.Is(err, meta.ErrInUse) {
			return out, api.Errorf(api.CodeFailedPrecondition, "tenant %q still has collections; delete them first, or force the deletion to drop them", t.Name)
		}
		return out, metaError(fmt.Sprintf("tenant %s", t.ID), err)
	}
	// Its keys went with it (ON DELETE CASCADE); stop them now, not
	// within the cache's lifetime.
	d.Authenticator.ForgetTenant(t.ID)
	g.forgetTenant(ctx, d, t.ID)
	out.Deleted = true
	return out, nil
}

// keyTenant is the tenant a key request names: the caller's when ref is
// empty.
func keyTenant(ctx context.Context, d *Deps, c api.Caller, ref string) (string, error) {
	if ref == "" || ref == c.TenantID {
		return c.TenantID, nil
	}
	t, err := resolveTenant(ctx, d, ref)
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// parseDuration reads a Go duration field; "" is 0.
func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, &api.Error{Code: api.CodeInvalidArgument,
			Message: fmt.Sprintf("%s: %q is not a non-negative Go duration such as \"720h\" or \"90m\"", field, s),
			Details: map[string]any{"field": field}}
	}
	return v, nil
}

// CreateKey makes an API key. The caller may grant no more than it has
// (auth.AuthorizeKeyGrant): a tenant admin keys of its own tenant, a key
// limited to collections only keys limited to some of them.
func (g *Guard) CreateKey(ctx context.Context, req CreateKeyRequest) (CreatedKey, error) {
	d, c, err := g.begin(ctx)
	if err != nil {
		return CreatedKey{}, err
	}
	tenantID, err := keyTenant(ctx, d, c, req.Tenant)
	if err != nil {
		return CreatedKey{}, err
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		return CreatedKey{}, err
	}
	ttl, err := parseDuration("expires_in", req.ExpiresIn)
	if err != nil {
		return CreatedKey{}, err
	}
	for i, name := range req.Collections {
		if err := engine.ValidateName(name); err != nil {
			return CreatedKey{}, &api.Error{Code: api.CodeInvalidArgument, Message: fmt.Sprintf("collections[%d]: %v", i, err),
				Details: map[string]any{"field": fmt.Sprintf("collections[%d]", i)}}
		}
	}
	if err := auth.AuthorizeKeyGrant(c, tenantID, role, req.Collections); err != nil {
		return CreatedKey{}, hidden(err, tenantWhat(req.Tenant))
	}
	info, key, err := d.Authenticator.Create(ctx, tenantID, role, req.Name, req.Collections, ttl)
	if err != nil {
		return CreatedKey{}, err
	}
	CallFrom(ctx).SetTarget(info.ID)
	return CreatedKey{KeyInfo: info, Key: key.Reveal()}, nil
}

// ListKeys describes the keys of a tenant (id or name; empty: the
// caller's, or every tenant's for an operator), revoked and expired ones
// included, never a secret.
func (g *Guard) ListKeys(ctx context.Context, tenant string) (KeyList, error) {
	d, c, err := g.begin(ctx)
	if err != nil {
		return KeyList{}, err
	}
	tenantID := c.TenantID
	switch {
	case tenant == "" && auth.IsOperator(c):
		tenantID = ""
	case tenant != "":
		if tenantID, err = keyTenant(ctx, d, c, tenant); err != nil {
			return KeyList{}, err
		}
	}
	if tenantID != "" {
		if err := auth.AuthorizeTenant(c, auth.ActionKeyList, tenantID); err != nil {
			return KeyList{}, hidden(err, tenantWhat(tenant))
		}
		CallFrom(ctx).SetTarget(tenantID)
	} else if err := auth.Authorize(c, auth.ActionKeyList); err != nil {
		return KeyList{}, err
	}
	keys, err := d.Authenticator.List(ctx, tenantID)
	if err != nil {
		return KeyList{}, err
	}
	if keys == nil {
		keys = []auth.KeyInfo{}
	}
	return KeyList{Keys: keys}, nil
}

// ownKey loads key id for an action on it: another tenant's key is
// not_found, and a key broader than the caller's own (a higher role, or
// more collections) is permission_denied.
func ownKey(ctx context.Context, d *Deps, c api.Caller, action auth.Action, id string) (auth.KeyInfo, error) {
	k, err := scopedKey(ctx, d, c, action, id)
	if err != nil {
		return auth.KeyInfo{}, err
	}
	if err := auth.AuthorizeKeyGrant(c, k.TenantID, k.Role, k.Collections); err != nil {
		return auth.KeyInfo{}, err
	}
	return k, nil
}

// scopedKey loads key id for an action the caller is already authorized
// for: another tenant's key is not_found (unless the caller is an
// operator), with the same message as a key that does not exist.
func scopedKey(ctx context.Context, d *Deps, c api.Caller, action auth.Action, id string) (auth.KeyInfo, error) {
	CallFrom(ctx).SetTarget(id)
	if !meta.ValidAPIKeyID(id) {
		return auth.KeyInfo{}, api.Errorf(api.CodeNotFound, "%s: not found", keyWhat(id))
	}
	k, err := d.Authenticator.Get(ctx, id)
	if err == nil {
		err = auth.AuthorizeTenant(c, action, k.TenantID)
	}
	if err != nil {
		return auth.KeyInfo{}, hidden(err, keyWhat(id))
	}
	return k, nil
}

// RevokeKey makes key id unusable from the next request on (its tokens
// too). Revoking a revoked key changes nothing.
func (g *Guard) RevokeKey(ctx context.Context, id string) (auth.KeyInfo, error) {
	d, c, err := g.begin(ctx)
	if err != nil {
		return auth.KeyInfo{}, err
	}
	if _, err := ownKey(ctx, d, c, auth.ActionKeyRevoke, id); err != nil {
		return auth.KeyInfo{}, err
	}
	return d.Authenticator.Revoke(ctx, id)
}

// RotateKey replaces key id by a new key with the same tenant, role, name,
// collections and lifetime; the old key keeps working for the overlap and
// is then expired (no overlap: revoked now).
func (g *Guard) RotateKey(ctx context.Context, id string, req RotateKeyRequest) (RotatedKey, error) {
	d, c, err := g.begin(ctx)
	if err != nil {
		return RotatedKey{}, err
	}
	overlap, err := parseDuration("overlap", req.Overlap)
	if err != nil {
		return RotatedKey{}, err
	}
	if _, err := ownKey(ctx, d, c, auth.ActionKeyRotate, id); err != nil {
		return RotatedKey{}, err
	}
	r, err := d.Authenticator.Rotate(ctx, id, overlap)
	if err != nil {
		return RotatedKey{}, err
	}
	CallFrom(ctx).SetTarget(id + " -> " + r.New.ID)
	return RotatedKey{Old: r.Old, New: CreatedKey{KeyInfo: r.New, Key: r.Key.Reveal()}}, nil
}

// ListAudit pages through the audit trail, newest first: the caller's
// tenant's events, or (operator) every tenant's or the named one's.
func (g *Guard) ListAudit(ctx context.Context, tenant, cursor string, limit int) (auth.EventPage, error) {
	d, c, err := g.begin(ctx)
	if err != nil {
		return auth.EventPage{}, err
	}
	tenantID := c.TenantID
	switch {
	case tenant == "" && auth.IsOperator(c):
		tenantID = ""
	case tenant != "" && auth.IsOperator(c):
		// The trail outlives tenants: an unknown reference is taken as
		// the id of a deleted tenant.
		tenantID = tenant
		if t, err := resolveTenant(ctx, d, tenant); err == nil {
			tenantID = t.ID
		}
	case tenant != "":
		if tenantID, err = keyTenant(ctx, d, c, tenant); err != nil {
			return auth.EventPage{}, err
		}
	}
	if err := auth.AuthorizeTenant(c, auth.ActionAuditRead, orCaller(tenantID, c)); err != nil {
		return auth.EventPage{}, hidden(err, tenantWhat(tenant))
	}
	CallFrom(ctx).SetTarget(tenantID)
	page, err := d.Auditor.List(ctx, tenantID, cursor, limit)
	if err != nil {
		return auth.EventPage{}, err
	}
	if page.Events == nil {
		page.Events = []auth.Event{}
	}
	return page, nil
}

// orCaller is tenantID, or the caller's tenant for "" (every tenant, which
// only an operator gets to ask for).
func orCaller(tenantID string, c api.Caller) string {
	if tenantID == "" {
		return c.TenantID
	}
	return tenantID
}

// IssueToken exchanges an API key (a token does not buy a token) for a
// JWT and audits the exchange. It needs no Begin: the credential is the
// request's subject (req.Credential, RemoteAddr, RequestID; req.Action is
// ignored). The exchange takes a rate limit token of the key's tenant like
// any request; refused, it answers rate_limited and issues nothing.
func (g *Guard) IssueToken(ctx context.Context, req Request) (auth.Token, error) {
	d, err := g.dependencies()
	if err != nil {
		return auth.Token{}, err
	}
	req.Action = auth.ActionTokenIssue
	tok, caller, err := d.Authenticator.ExchangeKey(ctx, req.Credential, req.RemoteAddr)
	if err != nil {
		g.recordRefusal(ctx, d, caller, req, err)
		return auth.Token{}, err
	}
	if err := g.rateLimit(d, caller, req); err != nil {
		return auth.Token{}, err
	}
	g.record(ctx, d, caller, req, caller.KeyID, nil)
	return tok, nil
}
