// Package accesstest is the shared fixture and expectation table of the
// access matrix tests: every REST route and every gRPC method, called as
// each role, on the caller's own tenant's objects and on another tenant's,
// must answer what the one table here says. serve/rest and serve/grpc run
// it over their transports, so both answer the same.
//
// It is for tests only; it imports testing.
package accesstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/wal"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/limits"
)

// Role is who calls in a cell of the matrix.
type Role string

// The roles of the matrix, in the order of the expectation strings.
const (
	None     Role = "none"     // no credential
	Reader   Role = "reader"   // reader key of the own tenant
	Writer   Role = "writer"   // writer key of the own tenant
	Admin    Role = "admin"    // admin key of the own tenant (not the default one)
	Operator Role = "operator" // unrestricted admin key of the default tenant
	Expired  Role = "expired"  // a writer key of the own tenant that has expired
	Revoked  Role = "revoked"  // an admin key of the own tenant that was revoked
)

// Roles lists the roles in table order.
func Roles() []Role { return []Role{None, Reader, Writer, Admin, Operator, Expired, Revoked} }

// Scope says whose object a cell acts on.
type Scope string

// The scopes.
const (
	Own   Scope = "own"   // the caller's tenant's
	Other Scope = "other" // another tenant's
)

// Dim is the dimension of every fixture collection.
const Dim = 2

// VectorID is the record every fixture collection holds.
const VectorID = "v1"

// Start is the fixture clock's starting time.
var Start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a settable clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Fixture is an engine with three tenants (alpha: the callers' own, beta:
// the other, and default: the operator's), a collection in each, keys of
// every role, and the guard and service over them.
type Fixture struct {
	t       testing.TB
	DB      *engine.DB
	Svc     *api.Service
	Guard   *access.Guard
	Authn   *auth.Authenticator
	Auditor *auth.Auditor
	Clock   *Clock
	// Store is the object store of the engine's tier (memory, with fault
	// injection), so the storage routes have a tier to act on.
	Store *tier.FaultStore
	// Limits are the quotas and runtime settings the guard administers.
	// They have no Limiter: the matrix makes far more requests than a
	// bucket holds; rate limiting has its own tests.
	Limits *access.LimitDeps

	Alpha, Beta string // tenant ids
	creds       map[Role]string
	// KeyIDs are the ids of the role keys (for tests that look them up).
	KeyIDs map[Role]string
	seq    int
}

// New builds the fixture in a temporary directory. The failure throttle
// is effectively off (the matrix makes many refused calls from one
// address); throttling has its own tests.
func New(t testing.TB) *Fixture {
	t.Helper()
	dir := t.TempDir()
	store := tier.NewFaultStore(tier.NewMemStore())
	db, err := engine.Open(dir, engine.Config{Sync: wal.SyncNone,
		Tier: &engine.TierConfig{NoBackground: true, ShutdownShipTimeout: -1, Tier: tier.Config{Store: store, Prefix: "fixture"}}})
	if err != nil {
		t.Fatalf("engine.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close engine: %v", err)
		}
	})
	f := &Fixture{t: t, DB: db, Store: store, Clock: &Clock{now: Start}, creds: map[Role]string{}, KeyIDs: map[Role]string{}}
	f.Authn, err = auth.New(db.Meta(), auth.Config{
		JWTSecret: []byte(strings.Repeat("s", auth.MinJWTSecretLen)), Now: f.Clock.Now,
		Throttle: auth.ThrottleConfig{MaxFailures: 1 << 30},
	})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	f.Auditor = auth.NewAuditor(db.Meta(), auth.AuditConfig{Now: f.Clock.Now})
	rc, err := limits.NewRuntimeConfig(context.Background(), db.Meta(), nil)
	if err != nil {
		t.Fatal(err)
	}
	quotas, err := limits.NewQuotas(context.Background(), db.Meta(), rc, limits.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	f.Limits = &access.LimitDeps{Quotas: quotas, Config: rc, Usage: limits.NewEngineUsage(db)}
	f.Guard = access.New(access.Options{})
	if err := f.Guard.Attach(access.Deps{Authenticator: f.Authn, Auditor: f.Auditor, Store: db.Meta(), Collections: db, Limits: f.Limits, Storage: db}); err != nil {
		t.Fatal(err)
	}
	f.Svc = api.New(api.Options{Now: f.Clock.Now})
	f.Svc.SetDB(db)

	ctx := context.Background()
	for name, id := range map[string]*string{"alpha": &f.Alpha, "beta": &f.Beta} {
		tn, err := db.Meta().CreateTenant(ctx, name)
		if err != nil {
			t.Fatalf("create tenant %s: %v", name, err)
		}
		*id = tn.ID
	}
	mk := func(role Role, tenant string, r auth.Role, ttl time.Duration) {
		info, key, err := f.Authn.Create(ctx, tenant, r, string(role), nil, ttl)
		if err != nil {
			t.Fatalf("create %s key: %v", role, err)
		}
		f.creds[role] = key.Reveal()
		f.KeyIDs[role] = info.ID
	}
	mk(Reader, f.Alpha, auth.RoleReader, 0)
	mk(Writer, f.Alpha, auth.RoleWriter, 0)
	mk(Admin, f.Alpha, auth.RoleAdmin, 0)
	mk(Operator, meta.DefaultTenantID, auth.RoleAdmin, 0)
	mk(Expired, f.Alpha, auth.RoleWriter, time.Minute)
	mk(Revoked, f.Alpha, auth.RoleAdmin, 0)
	if _, err := f.Authn.Revoke(ctx, f.KeyIDs[Revoked]); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(2 * time.Minute) // the expired key is past its minute
	f.Reset()
	return f
}

// Credential is the role's API key ("" for None).
func (f *Fixture) Credential(r Role) string { return f.creds[r] }

// Tenant is the tenant a role acts for: default for the operator, alpha
// for the others.
func (f *Fixture) Tenant(r Role) string {
	if r == Operator {
		return meta.DefaultTenantID
	}
	return f.Alpha
}

// ScopeTenant is the tenant whose objects a cell acts on.
func (f *Fixture) ScopeTenant(r Role, s Scope) string {
	if s == Other {
		return f.Beta
	}
	return f.Tenant(r)
}

// CollectionOf is the collection every tenant holds: "<tenant>-col" (the
// default tenant's is "default-col").
func (f *Fixture) CollectionOf(tenant string) string {
	switch tenant {
	case f.Alpha:
		return "alpha-col"
	case f.Beta:
		return "beta-col"
	}
	return "default-col"
}

// Collection is the collection a cell addresses by name: the caller's
// tenant's own, or the other tenant's (which, looked up in the caller's
// tenant, must not be found).
func (f *Fixture) Collection(r Role, s Scope) string { return f.CollectionOf(f.ScopeTenant(r, s)) }

// NewCollection is the name a collection.create cell creates: a fresh
// name for Own, and for Other the other tenant's collection's name, which
// must be created in the caller's own tenant (names are per tenant).
func (f *Fixture) NewCollection(r Role, s Scope) string {
	if s == Other {
		return f.CollectionOf(f.Beta)
	}
	return "new-col"
}

// TenantRef is what a key or audit request names as its tenant: nothing
// (the caller's own) for Own, the other tenant's id for Other.
func (f *Fixture) TenantRef(s Scope) string {
	if s == Other {
		return f.Beta
	}
	return ""
}

// Victim creates a live reader key in the cell's scope tenant, for revoke
// and rotate cells, and returns its id.
func (f *Fixture) Victim(r Role, s Scope) string {
	f.t.Helper()
	info, _, err := f.Authn.Create(context.Background(), f.ScopeTenant(r, s), auth.RoleReader, "victim", nil, 0)
	if err != nil {
		f.t.Fatalf("create victim key: %v", err)
	}
	return info.ID
}

// RatedVictim is Victim with a rate limit of its own (5 requests per
// second), for key rate cells that read or clear one.
func (f *Fixture) RatedVictim(r Role, s Scope) string {
	f.t.Helper()
	id := f.Victim(r, s)
	if _, err := f.Limits.Quotas.SetKeyRate(context.Background(), id, limits.KeyRateUpdate{QPSLimit: 5}); err != nil {
		f.t.Fatalf("rate-limit victim key: %v", err)
	}
	return id
}

// Scratch creates an empty tenant for a tenant.delete cell and returns
// its id.
func (f *Fixture) Scratch() string {
	f.t.Helper()
	f.seq++
	tn, err := f.DB.Meta().CreateTenant(context.Background(), fmt.Sprintf("scratch-%d", f.seq))
	if err != nil {
		f.t.Fatalf("create scratch tenant: %v", err)
	}
	return tn.ID
}

// DLQEntry queues a failed delete of an object of the cell's scope
// tenant's collection in the DLQ and returns the entry's id (a retry of it
// succeeds: the memory store deletes a missing object happily).
func (f *Fixture) DLQEntry(r Role, s Scope) string {
	f.t.Helper()
	tenant := f.ScopeTenant(r, s)
	h, err := f.DB.Collection(tenant, f.CollectionOf(tenant))
	if err != nil {
		f.t.Fatal(err)
	}
	f.seq++
	e, err := f.DB.Meta().PutDLQEntry(context.Background(), meta.DLQEntry{CollectionID: h.Info().ID, TenantID: tenant, CollectionName: h.Info().Name,
		Operation: meta.DLQDelete, Kind: "log", ObjectKey: fmt.Sprintf("fixture/gone/%d", f.seq), LastError: "fixture", NextAttemptAt: f.Clock.Now()})
	if err != nil {
		f.t.Fatalf("queue a DLQ entry: %v", err)
	}
	return fmt.Sprint(e.ID)
}

// Reset puts the collections back as New made them: each tenant holds
// exactly its "<tenant>-col" with the record VectorID, whatever the last
// cell created, dropped or deleted.
func (f *Fixture) Reset() {
	f.t.Helper()
	ctx := context.Background()
	for _, tenant := range []string{f.Alpha, f.Beta, meta.DefaultTenantID} {
		want := f.CollectionOf(tenant)
		for _, c := range f.DB.ListCollections(tenant) {
			if c.Name != want {
				if err := f.DB.DropCollection(ctx, tenant, c.Name); err != nil {
					f.t.Fatalf("reset: drop %s/%s: %v", tenant, c.Name, err)
				}
			}
		}
		h, err := f.DB.Collection(tenant, want)
		if errors.Is(err, engine.ErrNotFound) {
			if _, err := f.DB.CreateCollection(ctx, tenant, engine.CollectionConfig{Name: want, Dimension: Dim, Metric: distance.L2}); err != nil {
				f.t.Fatalf("reset: create %s/%s: %v", tenant, want, err)
			}
			h, err = f.DB.Collection(tenant, want)
		}
		if err != nil {
			f.t.Fatalf("reset: %s/%s: %v", tenant, want, err)
		}
		if _, err := h.Get(VectorID); err != nil {
			if err := h.Upsert(ctx, []engine.Record{{ID: VectorID, Vector: []float32{1, 0}}}); err != nil {
				f.t.Fatalf("reset: upsert into %s/%s: %v", tenant, want, err)
			}
		}
		// Exactly one payload index, on IndexField.
		has := false
		for _, in := range h.Indexes() {
			if in.Field == IndexField {
				has = true
			} else if err := h.DropIndex(ctx, in.Field); err != nil {
				f.t.Fatalf("reset: drop index %s on %s/%s: %v", in.Field, tenant, want, err)
			}
		}
		if !has {
			if _, err := h.CreateIndex(ctx, IndexField, "keyword"); err != nil {
				f.t.Fatalf("reset: index %s/%s: %v", tenant, want, err)
			}
			h.WaitIndexBuilds()
		}
	}
}

// IndexField is the metadata field every collection of the fixture has a
// payload index on (after Reset).
const IndexField = "tag"
