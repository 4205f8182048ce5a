package access

import (
	"time"

	"github.com/akidb/akidb/serve/auth"
)

// The JSON contract of the administration endpoints (docs/openapi.yaml).
// gRPC converts its messages to and from these, like the data plane does
// with serve/api's types.

// Tenant describes a tenant.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateTenantRequest is the body of POST /admin/tenants.
type CreateTenantRequest struct {
	Name string `json:"name"`
}

// TenantList is the body of GET /admin/tenants.
type TenantList struct {
	Tenants []Tenant `json:"tenants"`
}

// TenantDeleted answers DELETE /admin/tenants/{id}.
type TenantDeleted struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
	// DroppedCollections are the collections a forced deletion dropped.
	DroppedCollections []string `json:"dropped_collections,omitempty"`
}

// CreateKeyRequest is the body of POST /admin/api-keys.
type CreateKeyRequest struct {
	// Tenant is the tenant's id or name; empty means the caller's.
	Tenant string `json:"tenant,omitempty"`
	// Role is admin, writer or reader.
	Role string `json:"role"`
	Name string `json:"name,omitempty"`
	// Collections, if not empty, are the only collections the key reaches.
	Collections []string `json:"collections,omitempty"`
	// ExpiresIn is a Go duration ("720h", "90m"); empty means the key
	// never expires.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// CreatedKey is a key's description plus the key itself, which the server
// shows this once.
type CreatedKey struct {
	auth.KeyInfo
	Key string `json:"key"`
}

// KeyList is the body of GET /admin/api-keys. It never holds a secret.
type KeyList struct {
	Keys []auth.KeyInfo `json:"keys"`
}

// RotateKeyRequest is the (optional) body of POST
// /admin/api-keys/{id}/rotate.
type RotateKeyRequest struct {
	// Overlap is how long the old key keeps working (a Go duration,
	// "24h"); empty or "0s" revokes it at once.
	Overlap string `json:"overlap,omitempty"`
}

// RotatedKey answers a rotation: the old key with its new expiry (or
// revocation time) and the new key, shown this once.
type RotatedKey struct {
	Old auth.KeyInfo `json:"old"`
	New CreatedKey   `json:"new"`
}
