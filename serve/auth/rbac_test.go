package auth

import (
	"testing"

	"github.com/akidb/akidb/serve/api"
)

// The permission table of the issue, written out independently of the
// table in rbac.go.
var wantAllowed = map[Role][]Action{
	RoleAdmin: Actions(),
	RoleWriter: {ActionCollectionCreate, ActionCollectionDelete, ActionCollectionList, ActionCollectionRead, ActionCollectionUpdate,
		ActionIndexCreate, ActionIndexDelete, ActionVectorUpsert, ActionVectorDelete, ActionVectorRead, ActionVectorQuery,
		ActionStatusRead, ActionTokenIssue, ActionQuotaRead, ActionStorageRead},
	RoleReader: {ActionCollectionList, ActionCollectionRead, ActionVectorRead, ActionVectorQuery,
		ActionStatusRead, ActionTokenIssue, ActionStorageRead},
}

func TestRoleTable(t *testing.T) {
	if n := len(Actions()); n < 17 {
		t.Fatalf("%d actions, want at least 17", n)
	}
	seen := map[Action]bool{}
	for _, a := range Actions() {
		if seen[a] {
			t.Fatalf("action %s listed twice", a)
		}
		seen[a] = true
	}
	for _, role := range Roles() {
		want := map[Action]bool{}
		for _, a := range wantAllowed[role] {
			want[a] = true
		}
		for _, a := range Actions() {
			if got := Allowed(role, a); got != want[a] {
				t.Errorf("Allowed(%s, %s) = %v, want %v", role, a, got, want[a])
			}
		}
		if got := RoleActions(role); len(got) != len(want) {
			t.Errorf("RoleActions(%s) = %v, want %d actions", role, got, len(want))
		}
	}
	for _, a := range Actions() {
		if Allowed("root", a) || Allowed("", a) {
			t.Errorf("an unknown role may %s", a)
		}
	}
	if Allowed(RoleAdmin, "collection.explode") {
		t.Error("admin may do an unknown action")
	}
	for _, s := range []string{"admin", "writer", "reader"} {
		if r, err := ParseRole(s); err != nil || string(r) != s {
			t.Errorf("ParseRole(%q) = %q, %v", s, r, err)
		}
	}
	_, err := ParseRole("Admin")
	wantCode(t, err, api.CodeInvalidArgument)
}

func TestAuthorize(t *testing.T) {
	operator := api.Caller{TenantID: "default", KeyID: "k1", Role: "admin"}
	tenantAdmin := api.Caller{TenantID: "acme", KeyID: "k2", Role: "admin"}
	limitedAdmin := api.Caller{TenantID: "default", KeyID: "k3", Role: "admin", Collections: []string{"a", "b"}}
	reader := api.Caller{TenantID: "acme", KeyID: "k4", Role: "reader"}

	for _, a := range Actions() {
		if err := Authorize(operator, a); err != nil {
			t.Errorf("operator may not %s: %v", a, err)
		}
		err := Authorize(tenantAdmin, a)
		if IsGlobal(a) {
			wantCode(t, err, api.CodePermissionDenied)
			wantCode(t, Authorize(limitedAdmin, a), api.CodePermissionDenied)
		} else if err != nil {
			t.Errorf("tenant admin may not %s: %v", a, err)
		}
		if err := Authorize(reader, a); (err == nil) != Allowed(RoleReader, a) {
			t.Errorf("reader and %s: %v", a, err)
		} else if err != nil {
			wantCode(t, err, api.CodePermissionDenied)
		}
	}
	wantCode(t, Authorize(operator, "nope"), api.CodePermissionDenied)

	// Another tenant's objects are not found, except for the operator.
	if err := AuthorizeTenant(tenantAdmin, ActionKeyList, "acme"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, AuthorizeTenant(tenantAdmin, ActionKeyList, "default"), api.CodeNotFound)
	wantCode(t, AuthorizeTenant(reader, ActionKeyList, "acme"), api.CodePermissionDenied)
	if err := AuthorizeTenant(operator, ActionAuditRead, "acme"); err != nil {
		t.Fatal(err)
	}

	// A key grants no more than it has.
	if err := AuthorizeKeyGrant(tenantAdmin, "acme", RoleWriter, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, AuthorizeKeyGrant(tenantAdmin, "other", RoleReader, nil), api.CodeNotFound)
	wantCode(t, AuthorizeKeyGrant(tenantAdmin, "acme", "root", nil), api.CodeInvalidArgument)
	if err := AuthorizeKeyGrant(limitedAdmin, "default", RoleReader, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, AuthorizeKeyGrant(limitedAdmin, "default", RoleReader, []string{"c"}), api.CodePermissionDenied)
	wantCode(t, AuthorizeKeyGrant(limitedAdmin, "default", RoleReader, nil), api.CodePermissionDenied)
	wantCode(t, AuthorizeKeyGrant(reader, "acme", RoleReader, nil), api.CodePermissionDenied)
}
