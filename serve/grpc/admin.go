package grpc

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// The ManagementService's admin RPCs: convert, call the guard's
// administration service (the one REST's /admin routes call), convert
// back.

// noGuard answers the admin RPCs on a server without a security layer.
func noGuard() error {
	return ErrorStatus(api.Errorf(api.CodeUnavailable, "this server runs without its security layer; keys, tenants, tokens, quotas, the runtime configuration and the audit trail are not served")).Err()
}

// timeOut is a Timestamp, or nil for the zero time ("never", "not").
func timeOut(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func tenantOut(t access.Tenant) *akidbv1.Tenant {
	return &akidbv1.Tenant{Id: t.ID, Name: t.Name, CreatedAt: timeOut(t.CreatedAt)}
}

func keyOut(k auth.KeyInfo) *akidbv1.APIKey {
	return &akidbv1.APIKey{Id: k.ID, Tenant: k.TenantID, Role: string(k.Role), Name: k.Name, Collections: k.Collections,
		CreatedAt: timeOut(k.CreatedAt), ExpiresAt: timeOut(k.ExpiresAt), RevokedAt: timeOut(k.RevokedAt)}
}

func createdKeyOut(k access.CreatedKey) *akidbv1.CreateAPIKeyResponse {
	return &akidbv1.CreateAPIKeyResponse{KeyInfo: keyOut(k.KeyInfo), Key: k.Key}
}

func (m *managementServer) IssueToken(ctx context.Context, _ *akidbv1.IssueTokenRequest) (*akidbv1.IssueTokenResponse, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	cred, aerr := credentialOf(ctx)
	if aerr != nil {
		return nil, ErrorStatus(aerr).Err()
	}
	tok, err := m.s.guard.IssueToken(ctx, access.Request{
		Credential: cred, RemoteAddr: peerAddr(ctx), RequestID: requestIDOf(ctx), OnRateLimit: m.s.rateLimitHeaders(ctx),
	})
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return &akidbv1.IssueTokenResponse{Token: tok.Token, TokenType: tok.TokenType, ExpiresAt: timeOut(tok.ExpiresAt)}, nil
}

func (m *managementServer) CreateTenant(ctx context.Context, req *akidbv1.CreateTenantRequest) (*akidbv1.Tenant, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	t, err := m.s.guard.CreateTenant(ctx, access.CreateTenantRequest{Name: req.GetName()})
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return tenantOut(t), nil
}

func (m *managementServer) ListTenants(ctx context.Context, _ *akidbv1.ListTenantsRequest) (*akidbv1.ListTenantsResponse, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	list, err := m.s.guard.ListTenants(ctx)
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	out := &akidbv1.ListTenantsResponse{Tenants: make([]*akidbv1.Tenant, len(list.Tenants))}
	for i, t := range list.Tenants {
		out.Tenants[i] = tenantOut(t)
	}
	return out, nil
}

func (m *managementServer) DeleteTenant(ctx context.Context, req *akidbv1.DeleteTenantRequest) (*akidbv1.DeleteTenantResponse, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	res, err := m.s.guard.DeleteTenant(ctx, req.GetId(), req.GetForce())
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return &akidbv1.DeleteTenantResponse{Id: res.ID, Deleted: res.Deleted, DroppedCollections: res.DroppedCollections}, nil
}

func (m *managementServer) CreateAPIKey(ctx context.Context, req *akidbv1.CreateAPIKeyRequest) (*akidbv1.CreateAPIKeyResponse, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	k, err := m.s.guard.CreateKey(ctx, access.CreateKeyRequest{Tenant: req.GetTenant(), Role: req.GetRole(), Name: req.GetName(),
		Collections: req.GetCollections(), ExpiresIn: req.GetExpiresIn()})
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return createdKeyOut(k), nil
}

func (m *managementServer) ListAPIKeys(ctx context.Context, req *akidbv1.ListAPIKeysRequest) (*akidbv1.ListAPIKeysResponse, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	list, err := m.s.guard.ListKeys(ctx, req.GetTenant())
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	out := &akidbv1.ListAPIKeysResponse{Keys: make([]*akidbv1.APIKey, len(list.Keys))}
	for i, k := range list.Keys {
		out.Keys[i] = keyOut(k)
	}
	return out, nil
}

func (m *managementServer) RevokeAPIKey(ctx context.Context, req *akidbv1.RevokeAPIKeyRequest) (*akidbv1.APIKey, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	k, err := m.s.guard.RevokeKey(ctx, req.GetId())
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return keyOut(k), nil
}

func (m *managementServer) RotateAPIKey(ctx context.Context, req *akidbv1.RotateAPIKeyRequest) (*akidbv1.RotateAPIKeyResponse, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	r, err := m.s.guard.RotateKey(ctx, req.GetId(), access.RotateKeyRequest{Overlap: req.GetOverlap()})
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return &akidbv1.RotateAPIKeyResponse{OldKey: keyOut(r.Old), NewKey: createdKeyOut(r.New)}, nil
}

func (m *managementServer) ListAuditEvents(ctx context.Context, req *akidbv1.ListAuditEventsRequest) (*akidbv1.ListAuditEventsResponse, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	if req.GetLimit() < 0 {
		return nil, ErrorStatus(&api.Error{Code: api.CodeInvalidArgument, Message: "limit: must not be negative", Details: map[string]any{"field": "limit"}}).Err()
	}
	page, err := m.s.guard.ListAudit(ctx, req.GetTenant(), req.GetCursor(), int(req.GetLimit()))
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	out := &akidbv1.ListAuditEventsResponse{Events: make([]*akidbv1.AuditEvent, len(page.Events)), NextCursor: page.NextCursor}
	for i, e := range page.Events {
		out.Events[i] = &akidbv1.AuditEvent{Id: e.ID, Time: timeOut(e.Time), Tenant: e.TenantID, KeyId: e.KeyID, RemoteAddr: e.RemoteAddr,
			Action: string(e.Action), Target: e.Target, Result: string(e.Result), RequestId: e.RequestID}
	}
	return out, nil
}
