package auth

import (
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
)

// Role is what a key may do: admin, writer or reader.
type Role string

// The roles, from most to least powerful.
const (
	RoleAdmin  Role = meta.RoleAdmin
	RoleWriter Role = meta.RoleWriter
	RoleReader Role = meta.RoleReader
)

// Roles lists every role, most powerful first.
func Roles() []Role { return []Role{RoleAdmin, RoleWriter, RoleReader} }

// ParseRole returns the role named s, or an invalid_argument *api.Error.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleWriter, RoleReader:
		return r, nil
	}
	return "", api.Errorf(api.CodeInvalidArgument, "role %q is not one of admin, writer, reader", s)
}

// Action is a named operation that a role is or is not allowed.
type Action string

// The actions. The table in doc.go says which role may do which.
const (
	ActionCollectionCreate Action = "collection.create"
	ActionCollectionDelete Action = "collection.delete"
	ActionCollectionList   Action = "collection.list"
	ActionCollectionRead   Action = "collection.read"
	// ActionCollectionUpdate changes a collection's settings (its tiering
	// policy, its quantization); ActionCollectionCheckpoint checkpoints it now;
	// ActionCollectionLoad and ActionCollectionEvict bring it into memory
	// and drop it from memory now (docs/tiering.md).
	ActionCollectionUpdate     Action = "collection.update"
	ActionCollectionCheckpoint Action = "collection.checkpoint"
	ActionCollectionLoad       Action = "collection.load"
	ActionCollectionEvict      Action = "collection.evict"
	ActionIndexCreate          Action = "index.create"
	ActionIndexDelete          Action = "index.delete"
	ActionVectorUpsert         Action = "vector.upsert"
	ActionVectorDelete         Action = "vector.delete"
	ActionVectorRead           Action = "vector.read"
	ActionVectorQuery          Action = "vector.query"
	ActionKeyCreate            Action = "key.create"
	ActionKeyList              Action = "key.list"
	ActionKeyRevoke            Action = "key.revoke"
	ActionKeyRotate            Action = "key.rotate"
	ActionTenantManage         Action = "tenant.manage"
	ActionQuotaRead            Action = "quota.read"
	ActionQuotaWrite           Action = "quota.write"
	ActionConfigRead           Action = "config.read"
	ActionConfigWrite          Action = "config.write"
	// ActionStorageRead reads the object storage tier's state and DLQ
	// (not audited: a dashboard polls it); ActionStorageAdmin retries and
	// discards DLQ entries and resets the circuit breaker.
	ActionStorageRead  Action = "storage.read"
	ActionStorageAdmin Action = "storage.admin"
	ActionAuditRead    Action = "audit.read"
	ActionStatusRead   Action = "status.read"
	ActionTokenIssue   Action = "token.issue"
	ActionMetricsRead  Action = "metrics.read"
)

// actionInfo is one row of the permission table.
type actionInfo struct {
	action Action
	// lowest is the least powerful role allowed the action (admin >
	// writer > reader): a role is allowed what its inferiors are.
	lowest Role
	// global actions reach beyond one tenant: only an operator (see
	// IsOperator) may do them, whatever its role.
	global bool
}

// permissions is the one table of who may do what, in the order Actions
// returns.
var permissions = [...]actionInfo{
	{ActionCollectionCreate, RoleWriter, false},
	{ActionCollectionDelete, RoleWriter, false},
	{ActionCollectionList, RoleReader, false},
	{ActionCollectionRead, RoleReader, false},
	{ActionIndexCreate, RoleWriter, false},
	{ActionIndexDelete, RoleWriter, false},
	{ActionCollectionUpdate, RoleWriter, false},
	{ActionCollectionCheckpoint, RoleAdmin, false},
	{ActionCollectionLoad, RoleAdmin, false},
	{ActionCollectionEvict, RoleAdmin, false},
	{ActionVectorUpsert, RoleWriter, false},
	{ActionVectorDelete, RoleWriter, false},
	{ActionVectorRead, RoleReader, false},
	{ActionVectorQuery, RoleReader, false},
	{ActionKeyCreate, RoleAdmin, false},
	{ActionKeyList, RoleAdmin, false},
	{ActionKeyRevoke, RoleAdmin, false},
	{ActionKeyRotate, RoleAdmin, false},
	{ActionTenantManage, RoleAdmin, true},
	{ActionQuotaRead, RoleWriter, false},
	{ActionQuotaWrite, RoleAdmin, true},
	{ActionConfigRead, RoleAdmin, true},
	{ActionConfigWrite, RoleAdmin, true},
	{ActionStorageRead, RoleReader, false},
	{ActionStorageAdmin, RoleAdmin, true},
	{ActionAuditRead, RoleAdmin, false},
	{ActionStatusRead, RoleReader, false},
	{ActionTokenIssue, RoleReader, false},
	{ActionMetricsRead, RoleAdmin, true},
}

func rank(r Role) int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleWriter:
		return 2
	case RoleReader:
		return 1
	}
	return 0
}

func lookupAction(a Action) (actionInfo, bool) {
	for _, p := range permissions {
		if p.action == a {
			return p, true
		}
	}
	return actionInfo{}, false
}

// Actions lists every action, in the order of the table in doc.go.
func Actions() []Action {
	out := make([]Action, len(permissions))
	for i, p := range permissions {
		out[i] = p.action
	}
	return out
}

// Allowed reports whether role may do action. Unknown roles and actions
// are allowed nothing.
func Allowed(role Role, action Action) bool {
	p, ok := lookupAction(action)
	return ok && rank(role) > 0 && rank(role) >= rank(p.lowest)
}

// RoleActions lists the actions role may do, in Actions order.
func RoleActions(role Role) []Action {
	var out []Action
	for _, p := range permissions {
		if Allowed(role, p.action) {
			out = append(out, p.action)
		}
	}
	return out
}

// IsGlobal reports whether action reaches beyond the caller's tenant
// (tenant.manage, quota.write, config.*, storage.admin), which only an
// operator may do.
func IsGlobal(action Action) bool {
	p, ok := lookupAction(action)
	return ok && p.global
}

// IsOperator reports whether c speaks for the whole server: an admin key
// of the default tenant that is not limited to some collections (the
// bootstrap admin key is one). An admin of any other tenant administers
// that tenant only.
func IsOperator(c api.Caller) bool {
	return Role(c.Role) == RoleAdmin && c.TenantID == meta.DefaultTenantID && len(c.Collections) == 0
}

// Authorize returns nil if c may do action, and otherwise a
// permission_denied *api.Error naming the action. Global actions also need
// an operator. Call it after Authenticate and before the service; for
// actions on another tenant's objects use AuthorizeTenant.
func Authorize(c api.Caller, action Action) error {
	p, ok := lookupAction(action)
	switch {
	case !ok:
		return api.Errorf(api.CodePermissionDenied, "unknown action %q", action)
	case !Allowed(Role(c.Role), action):
		return api.Errorf(api.CodePermissionDenied, "role %q may not %s", c.Role, action)
	case p.global && !IsOperator(c):
		return api.Errorf(api.CodePermissionDenied, "%s needs an unrestricted admin key of the %s tenant", action, meta.DefaultTenantID)
	}
	return nil
}

// AuthorizeTenant is Authorize for an action on an object of tenantID (a
// key, the audit trail, a quota): a caller of another tenant gets
// not_found, as for another tenant's collection, unless it is an operator.
func AuthorizeTenant(c api.Caller, action Action, tenantID string) error {
	if err := Authorize(c, action); err != nil {
		return err
	}
	if tenantID != c.TenantID && !IsOperator(c) {
		return api.Errorf(api.CodeNotFound, "not found")
	}
	return nil
}

// AuthorizeKeyGrant checks that c may create (or rotate into) a key of
// tenantID with this role and collection list: besides key.create in that
// tenant, the new key may not do more than c can, so a key limited to some
// collections only grants keys limited to some of them.
func AuthorizeKeyGrant(c api.Caller, tenantID string, role Role, collections []string) error {
	if err := AuthorizeTenant(c, ActionKeyCreate, tenantID); err != nil {
		return err
	}
	if rank(role) == 0 {
		return api.Errorf(api.CodeInvalidArgument, "role %q is not one of admin, writer, reader", role)
	}
	if rank(role) > rank(Role(c.Role)) {
		return api.Errorf(api.CodePermissionDenied, "a %s key may not grant the role %s", c.Role, role)
	}
	if len(c.Collections) == 0 {
		return nil
	}
	if len(collections) == 0 {
		return api.Errorf(api.CodePermissionDenied, "a key limited to some collections may only grant keys limited to those")
	}
	mine := make(map[string]bool, len(c.Collections))
	for _, n := range c.Collections {
		mine[n] = true
	}
	for _, n := range collections {
		if !mine[n] {
			return api.Errorf(api.CodePermissionDenied, "a key limited to some collections may only grant keys limited to those")
		}
	}
	return nil
}
