package access_test

import (
	"context"
	"errors"
	"testing"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/access/accesstest"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
)

func TestCredential(t *testing.T) {
	for _, c := range []struct {
		authz, key, want string
		ok               bool
	}{
		{"", "", "", true},
		{"Bearer abc", "", "abc", true},
		{"bearer  abc ", "", "abc", true},
		{"BEARER abc", "abc", "abc", true},
		{"", " k ", "k", true},
		{"Basic abc", "", "", false},
		{"Bearer", "", "", false},
		{"Bearer ", "", "", false},
		{"abc", "", "", false},
		{"Bearer a", "b", "", false},
	} {
		got, err := access.Credential(c.authz, c.key)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("Credential(%q, %q) = %q, %v", c.authz, c.key, got, err)
		}
		if err != nil && err.Code != api.CodeUnauthenticated {
			t.Errorf("Credential(%q, %q): code %s", c.authz, c.key, err.Code)
		}
	}
}

// events reads the whole audit trail, newest first.
func events(t *testing.T, f *accesstest.Fixture) []auth.Event {
	t.Helper()
	page, err := f.Auditor.List(context.Background(), "", "", meta.MaxAuditPage)
	if err != nil {
		t.Fatal(err)
	}
	return page.Events
}

// TestBeginOrderAndAudit: refusals are audited (except no credential at
// all), audited actions are recorded with their outcome and target, and
// plain data-plane successes are not.
func TestBeginOrderAndAudit(t *testing.T) {
	f := accesstest.New(t)
	ctx := context.Background()
	g := f.Guard
	req := func(a auth.Action, r accesstest.Role) access.Request {
		return access.Request{Action: a, Credential: f.Credential(r), RemoteAddr: "192.0.2.1:5", RequestID: "rid", Target: "tgt"}
	}
	base := len(events(t, f))

	// No credential: 401, not recorded.
	if _, _, err := g.Begin(ctx, req(auth.ActionCollectionList, accesstest.None)); api.AsError(err).Code != api.CodeUnauthenticated {
		t.Fatalf("no credential: %v", err)
	}
	// A bad credential: 401, recorded denied.
	if _, _, err := g.Begin(ctx, req(auth.ActionCollectionList, accesstest.Revoked)); api.AsError(err).Code != api.CodeUnauthenticated {
		t.Fatalf("revoked: %v", err)
	}
	// A good credential without the right: 403, recorded denied with the caller.
	if _, _, err := g.Begin(ctx, req(auth.ActionCollectionDelete, accesstest.Reader)); api.AsError(err).Code != api.CodePermissionDenied {
		t.Fatalf("reader deleting: %v", err)
	}
	// A data-plane success: admitted, caller attached, not recorded.
	cctx, call, err := g.Begin(ctx, req(auth.ActionVectorQuery, accesstest.Reader))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := api.CallerFrom(cctx); !ok || c.TenantID != f.Alpha || c.Role != "reader" || access.CallFrom(cctx) != call {
		t.Fatalf("caller %+v %v", c, ok)
	}
	call.End(cctx, nil)
	// An audited action: recorded with its outcome and refined target.
	cctx, call, err = g.Begin(ctx, req(auth.ActionCollectionCreate, accesstest.Writer))
	if err != nil {
		t.Fatal(err)
	}
	access.CallFrom(cctx).SetTarget("made")
	call.End(cctx, errors.New("disk full"))
	call.End(cctx, nil) // a second End does nothing

	got := events(t, f)[:len(events(t, f))-base]
	want := []struct {
		action auth.Action
		result auth.Result
		key    string
		target string
	}{
		{auth.ActionCollectionCreate, auth.ResultFailed, f.KeyIDs[accesstest.Writer], "made"},
		{auth.ActionCollectionDelete, auth.ResultDenied, f.KeyIDs[accesstest.Reader], "tgt"},
		{auth.ActionCollectionList, auth.ResultDenied, "", "tgt"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d new events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		e := got[i]
		if e.Action != w.action || e.Result != w.result || e.KeyID != w.key || e.Target != w.target || e.RemoteAddr != "192.0.2.1:5" || e.RequestID != "rid" {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
}

// TestDisabledActsAsOperator: with authentication off every request is
// the operator's, credential or not, and refusals cannot happen.
func TestDisabledActsAsOperator(t *testing.T) {
	f := accesstest.New(t)
	g := access.New(access.Options{Disabled: true})
	if _, _, err := g.Begin(context.Background(), access.Request{Action: auth.ActionTenantManage}); api.AsError(err).Code != api.CodeUnavailable {
		t.Fatalf("before Attach: %v", err)
	}
	if err := g.Attach(access.Deps{Authenticator: f.Authn, Auditor: f.Auditor, Store: f.DB.Meta(), Collections: f.DB}); err != nil {
		t.Fatal(err)
	}
	ctx, call, err := g.Begin(context.Background(), access.Request{Action: auth.ActionTenantManage, Credential: "garbage"})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := api.CallerFrom(ctx); !auth.IsOperator(c) {
		t.Fatalf("caller %+v", c)
	}
	tn, err := g.CreateTenant(ctx, access.CreateTenantRequest{Name: "dev"})
	call.End(ctx, err)
	if err != nil || tn.Name != "dev" {
		t.Fatalf("CreateTenant: %+v %v", tn, err)
	}
	if err := g.Attach(access.Deps{}); err == nil {
		t.Fatal("Attach without dependencies succeeded")
	}
}

// TestAdminScoping covers the administration service directly: a tenant
// admin is confined to its tenant, grants no more than it has, and the
// operator reaches everything.
// beginAs returns a function that admits a request of the role for the
// action and returns its context, failing the test if it is refused.
func beginAs(t *testing.T, f *accesstest.Fixture) func(accesstest.Role, auth.Action) context.Context {
	return func(r accesstest.Role, a auth.Action) context.Context {
		t.Helper()
		c, _, err := f.Guard.Begin(context.Background(), access.Request{Action: a, Credential: f.Credential(r), RemoteAddr: "192.0.2.9:1"})
		if err != nil {
			t.Fatalf("%s %s: %v", r, a, err)
		}
		return c
	}
}

func TestAdminScoping(t *testing.T) {
	f := accesstest.New(t)
	ctx := context.Background()
	as := beginAs(t, f)
	code := func(err error) api.Code {
		if err == nil {
			return ""
		}
		return api.AsError(err).Code
	}
	admin := as(accesstest.Admin, auth.ActionKeyCreate)
	if _, err := f.Guard.CreateKey(admin, access.CreateKeyRequest{Tenant: "beta", Role: "reader"}); code(err) != api.CodeNotFound {
		t.Fatalf("admin keying beta by name: %v", err)
	}
	if _, err := f.Guard.CreateKey(admin, access.CreateKeyRequest{Tenant: "nope", Role: "reader"}); code(err) != api.CodeNotFound {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, err := f.Guard.CreateKey(admin, access.CreateKeyRequest{Role: "reader", Collections: []string{"bad name"}}); code(err) != api.CodeInvalidArgument {
		t.Fatalf("bad collection name: %v", err)
	}
	k, err := f.Guard.CreateKey(admin, access.CreateKeyRequest{Tenant: "alpha", Role: "admin", Collections: []string{"alpha-col"}})
	if err != nil || k.TenantID != f.Alpha {
		t.Fatalf("admin keying alpha by name: %+v %v", k, err)
	}
	if _, err := f.Guard.ListKeys(as(accesstest.Admin, auth.ActionKeyList), f.Beta); code(err) != api.CodeNotFound {
		t.Fatalf("admin listing beta: %v", err)
	}
	list, err := f.Guard.ListKeys(as(accesstest.Admin, auth.ActionKeyList), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list.Keys {
		if k.TenantID != f.Alpha {
			t.Fatalf("admin sees a key of %s", k.TenantID)
		}
	}
	all, err := f.Guard.ListKeys(as(accesstest.Operator, auth.ActionKeyList), "")
	if err != nil || len(all.Keys) <= len(list.Keys) {
		t.Fatalf("operator lists %d keys, admin %d: %v", len(all.Keys), len(list.Keys), err)
	}
	// A collection-limited admin cannot revoke an unrestricted key of its
	// own tenant, nor rotate it.
	limited, _, err := f.Guard.Begin(ctx, access.Request{Action: auth.ActionKeyRevoke, Credential: k.Key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Guard.RevokeKey(limited, f.KeyIDs[accesstest.Writer]); code(err) != api.CodePermissionDenied {
		t.Fatalf("limited admin revoking a wider key: %v", err)
	}
	if _, err := f.Guard.RevokeKey(as(accesstest.Admin, auth.ActionKeyRevoke), "not-a-key-id"); code(err) != api.CodeNotFound {
		t.Fatalf("malformed id: %v", err)
	}
	if _, err := f.Guard.RotateKey(as(accesstest.Admin, auth.ActionKeyRotate), k.ID, access.RotateKeyRequest{Overlap: "-1s"}); code(err) != api.CodeInvalidArgument {
		t.Fatalf("negative overlap: %v", err)
	}
	// Tenants are the operator's.
	if _, err := f.Guard.ListTenants(as(accesstest.Admin, auth.ActionKeyList)); code(err) != api.CodePermissionDenied {
		t.Fatalf("admin listing tenants: %v", err)
	}
	op := as(accesstest.Operator, auth.ActionTenantManage)
	if _, err := f.Guard.DeleteTenant(op, "default", false); code(err) != api.CodeInvalidArgument {
		t.Fatalf("deleting default: %v", err)
	}
	if _, err := f.Guard.CreateTenant(op, access.CreateTenantRequest{Name: ""}); code(err) != api.CodeInvalidArgument {
		t.Fatalf("empty tenant name: %v", err)
	}
	// Audit: the admin reads alpha's only; the operator any tenant's.
	if _, err := f.Guard.ListAudit(as(accesstest.Admin, auth.ActionAuditRead), "beta", "", 0); code(err) != api.CodeNotFound {
		t.Fatalf("admin reading beta's audit: %v", err)
	}
	if _, err := f.Guard.ListAudit(as(accesstest.Operator, auth.ActionAuditRead), "gone-tenant-id", "", 0); err != nil {
		t.Fatalf("operator reading a deleted tenant's audit: %v", err)
	}
}

// TestOfflineForceRefused: without the engine (offline), a forced tenant
// deletion is refused and a plain one works on an empty tenant.
func TestOfflineForceRefused(t *testing.T) {
	f := accesstest.New(t)
	g := access.New(access.Options{})
	if err := g.Attach(access.Deps{Authenticator: f.Authn, Auditor: f.Auditor, Store: f.DB.Meta()}); err != nil {
		t.Fatal(err)
	}
	ctx, _, err := g.BeginAs(context.Background(), access.Operator(), access.Request{Action: auth.ActionTenantManage})
	if err != nil {
		t.Fatal(err)
	}
	scratch := f.Scratch()
	if _, err := g.DeleteTenant(ctx, scratch, true); api.AsError(err).Code != api.CodeFailedPrecondition {
		t.Fatalf("forced offline: %v", err)
	}
	if res, err := g.DeleteTenant(ctx, scratch, false); err != nil || !res.Deleted {
		t.Fatalf("plain offline: %+v %v", res, err)
	}
	if _, err := g.DeleteTenant(ctx, f.Alpha, false); api.AsError(err).Code != api.CodeFailedPrecondition {
		t.Fatalf("tenant with collections offline: %v", err)
	}
}
