package accesstest

import (
	"fmt"
	"strings"

	"github.com/akidb/akidb/serve/api"
)

// Expectation is one operation's row of the matrix: the outcome for each
// role (in Roles order) on the caller's own tenant's object and on
// another tenant's. "ok" is success; 401, 403 and 404 are unauthenticated,
// permission_denied and not_found.
type Expectation struct {
	Op         string
	Own, Other string
}

// Matrix is the one table both transports are held to. The order of a
// request is: authenticate (401) -> authorize the action (403) -> tenant
// scoping (another tenant's object is 404, never 403) -> the service.
//
//	roles:                none reader writer admin operator expired revoked
var Matrix = []Expectation{
	{"collection.create", "401 403 ok ok ok 401 401", "401 403 ok ok ok 401 401"}, // Other: the other tenant's name, created in the own tenant
	{"collection.list", "401 ok ok ok ok 401 401", "401 ok ok ok ok 401 401"},
	{"collection.get", "401 ok ok ok ok 401 401", "401 404 404 404 404 401 401"},
	{"collection.delete", "401 403 ok ok ok 401 401", "401 403 404 404 404 401 401"},
	{"collection.update", "401 403 ok ok ok 401 401", "401 403 404 404 404 401 401"},
	{"index.create", "401 403 ok ok ok 401 401", "401 403 404 404 404 401 401"},
	{"index.list", "401 ok ok ok ok 401 401", "401 404 404 404 404 401 401"},
	{"index.delete", "401 403 ok ok ok 401 401", "401 403 404 404 404 401 401"},
	{"vector.upsert", "401 403 ok ok ok 401 401", "401 403 404 404 404 401 401"},
	{"vector.query", "401 ok ok ok ok 401 401", "401 404 404 404 404 401 401"},
	{"vector.get", "401 ok ok ok ok 401 401", "401 404 404 404 404 401 401"},
	{"vector.delete_one", "401 403 ok ok ok 401 401", "401 403 404 404 404 401 401"},
	{"vector.delete", "401 403 ok ok ok 401 401", "401 403 404 404 404 401 401"},
	{"vector.scroll", "401 ok ok ok ok 401 401", "401 404 404 404 404 401 401"},
	{"status", "401 ok ok ok ok 401 401", "401 ok ok ok ok 401 401"},
	{"openapi", "401 ok ok ok ok 401 401", "401 ok ok ok ok 401 401"}, // REST only
	{"token.issue", "401 ok ok ok ok 401 401", "401 ok ok ok ok 401 401"},
	{"tenant.create", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	{"tenant.list", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	{"tenant.delete", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	{"key.create", "401 403 403 ok ok 401 401", "401 403 403 404 ok 401 401"},
	{"key.list", "401 403 403 ok ok 401 401", "401 403 403 404 ok 401 401"},
	{"key.revoke", "401 403 403 ok ok 401 401", "401 403 403 404 ok 401 401"},
	{"key.rotate", "401 403 403 ok ok 401 401", "401 403 403 404 ok 401 401"},
	{"audit.list", "401 403 403 ok ok 401 401", "401 403 403 404 ok 401 401"},
	// Quotas: reading is the tenant's writers' and admins' (quota.read),
	// changing them and the runtime settings is the operator's
	// (quota.write and config.* are global actions).
	{"quota.get", "401 403 ok ok ok 401 401", "401 403 404 404 ok 401 401"},
	{"quota.set", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	{"keyrate.get", "401 403 ok ok ok 401 401", "401 403 404 404 ok 401 401"},
	{"keyrate.set", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	{"keyrate.clear", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	{"config.get", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	{"config.set", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	// The object storage tier: a collection's policy is its writers'
	// (collection.update), checkpointing it its admins'; reading the
	// storage state and the DLQ is every role's, scoped to the tenant
	// (storage.read); the DLQ and breaker controls are the operator's
	// (storage.admin is global).
	{"collection.update", "401 403 ok ok ok 401 401", "401 403 404 404 404 401 401"},
	{"collection.checkpoint", "401 403 403 ok ok 401 401", "401 403 403 404 404 401 401"},
	// Loading a collection into memory and evicting it are its admins'
	// too (collection.load, collection.evict).
	{"collection.load", "401 403 403 ok ok 401 401", "401 403 403 404 404 401 401"},
	{"collection.evict", "401 403 403 ok ok 401 401", "401 403 403 404 404 401 401"},
	{"storage.status", "401 ok ok ok ok 401 401", "401 ok ok ok ok 401 401"},
	{"dlq.list", "401 ok ok ok ok 401 401", "401 ok ok ok ok 401 401"},
	{"dlq.retry", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	{"dlq.retry_entry", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	{"dlq.discard", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	{"breaker.reset", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
	// Metrics labelled with tenant ids are the operator's (REST only).
	{"metrics", "401 403 403 403 ok 401 401", "401 403 403 403 ok 401 401"},
}

// Want returns the expected code of a cell ("" for success).
func Want(e Expectation, r Role, s Scope) (api.Code, error) {
	row := e.Own
	if s == Other {
		row = e.Other
	}
	fields := strings.Fields(row)
	roles := Roles()
	if len(fields) != len(roles) {
		return "", fmt.Errorf("%s %s: %d outcomes for %d roles", e.Op, s, len(fields), len(roles))
	}
	for i, role := range roles {
		if role != r {
			continue
		}
		switch fields[i] {
		case "ok":
			return "", nil
		case "401":
			return api.CodeUnauthenticated, nil
		case "403":
			return api.CodePermissionDenied, nil
		case "404":
			return api.CodeNotFound, nil
		}
		return "", fmt.Errorf("%s %s %s: unknown outcome %q", e.Op, s, r, fields[i])
	}
	return "", fmt.Errorf("unknown role %q", r)
}

// Ops lists the operation names of the matrix.
func Ops() []string {
	out := make([]string, len(Matrix))
	for i, e := range Matrix {
		out[i] = e.Op
	}
	return out
}
