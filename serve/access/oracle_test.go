package access_test

import (
	"context"
	"strings"
	"testing"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/access/accesstest"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
)

// TestNoTenantOracle: a tenant's admin asking about another tenant (by
// name or id) or another tenant's key gets exactly the answer given for a
// name or key nobody uses, so the answers do not tell which exist.
func TestNoTenantOracle(t *testing.T) {
	f := accesstest.New(t)
	ctx := context.Background()
	as := beginAs(t, f)
	// An unused key id of the right form.
	unknownKey := "aaaaaaaaaaaaaaaa"
	betaKey, _, err := f.Authn.Create(ctx, f.Beta, auth.RoleReader, "beta-reader", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	type op struct {
		name string
		call func(ref string) error
	}
	ops := []op{
		{"quota.get", func(ref string) error {
			_, err := f.Guard.GetQuota(as(accesstest.Admin, auth.ActionQuotaRead), ref)
			return err
		}},
		{"key.list", func(ref string) error {
			_, err := f.Guard.ListKeys(as(accesstest.Admin, auth.ActionKeyList), ref)
			return err
		}},
		{"audit.list", func(ref string) error {
			_, err := f.Guard.ListAudit(as(accesstest.Admin, auth.ActionAuditRead), ref, "", 0)
			return err
		}},
		{"key.create", func(ref string) error {
			_, err := f.Guard.CreateKey(as(accesstest.Admin, auth.ActionKeyCreate), access.CreateKeyRequest{Tenant: ref, Role: "reader"})
			return err
		}},
	}
	keyOps := []op{
		{"key.revoke", func(id string) error {
			_, err := f.Guard.RevokeKey(as(accesstest.Admin, auth.ActionKeyRevoke), id)
			return err
		}},
		{"key.rotate", func(id string) error {
			_, err := f.Guard.RotateKey(as(accesstest.Admin, auth.ActionKeyRotate), id, access.RotateKeyRequest{})
			return err
		}},
		{"keyrate.get", func(id string) error {
			_, err := f.Guard.GetKeyRate(as(accesstest.Admin, auth.ActionQuotaRead), id)
			return err
		}},
	}
	same := func(o op, existing, unknown string) {
		t.Helper()
		a, b := api.AsError(o.call(existing)), api.AsError(o.call(unknown))
		if a == nil || b == nil || a.Code != api.CodeNotFound || b.Code != api.CodeNotFound {
			t.Fatalf("%s: other tenant's %v, unknown %v; want not_found for both", o.name, a, b)
		}
		am := strings.ReplaceAll(a.Message, existing, "REF")
		bm := strings.ReplaceAll(b.Message, unknown, "REF")
		if am != bm || !strings.Contains(a.Message, existing) {
			t.Errorf("%s tells the two apart (or names neither):\n  other tenant's: %q\n  unknown:        %q", o.name, a.Message, b.Message)
		}
	}
	for _, o := range ops {
		same(o, "beta", "gamma")
		same(o, f.Beta, "0123456789abcdef0123456789abcdef")
	}
	for _, o := range keyOps {
		same(o, betaKey.ID, unknownKey)
	}
}
