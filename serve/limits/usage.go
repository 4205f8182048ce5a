package limits

import (
	"github.com/akidb/akidb/engine"
)

// Catalog is what EngineUsage reads of the engine; *engine.DB is one.
type Catalog interface {
	// ListCollections lists a tenant's collections ("" : every tenant's).
	ListCollections(tenant string) []engine.CollectionInfo
	Collection(tenant, name string) (*engine.Handle, error)
}

// EngineUsage is the UsageSource of a running server: per tenant, the sum
// over its collections of what the engine reports for each
// (GET /api/v1/collections/{name} shows the same figures):
//
//	collections    the tenant's collections
//	vectors        live records (Stats.Count; deleted records not counted)
//	storage_bytes  the in-memory size of the collections (Stats.MemoryBytes):
//	               vectors (4 bytes a dimension) and index links of every
//	               node, deleted and replaced records' included until a
//	               vacuum; ids, metadata (as compact JSON) and per-record
//	               overhead of live records. The index allocates 256 records
//	               at a time, so the figure grows in steps of 256 records'
//	               worth. It is what the server holds in memory for the
//	               tenant, the resource an edge box runs out of first.
//	disk_bytes     the collections' files (Stats.DiskBytes): log segments,
//	               allocated ahead of the records in them (a new collection's
//	               log is 64 KiB and doubles as it fills), and snapshots.
//
// Reading it walks the tenant's collections under their read locks: a few
// microseconds per collection, done only for tenants that have a maximum
// set (Guard) and at scrape time.
type EngineUsage struct {
	db Catalog
}

var _ UsageSource = (*EngineUsage)(nil)

// NewEngineUsage reports the usage of db's tenants.
func NewEngineUsage(db Catalog) *EngineUsage { return &EngineUsage{db: db} }

// TenantUsage sums the tenant's collections.
func (u *EngineUsage) TenantUsage(tenantID string) Usage {
	if tenantID == "" {
		return Usage{} // "" lists every tenant's collections; no tenant has that id
	}
	var out Usage
	for _, info := range u.db.ListCollections(tenantID) {
		out = out.add(u.collection(info))
	}
	return out
}

// AllTenantUsage sums every tenant's collections.
func (u *EngineUsage) AllTenantUsage() map[string]Usage {
	out := map[string]Usage{}
	for _, info := range u.db.ListCollections("") {
		out[info.TenantID] = out[info.TenantID].add(u.collection(info))
	}
	return out
}

// collection is one collection's usage; one dropped since it was listed
// counts for nothing.
func (u *EngineUsage) collection(info engine.CollectionInfo) Usage {
	h, err := u.db.Collection(info.TenantID, info.Name)
	if err != nil {
		return Usage{}
	}
	st := h.Stats()
	return Usage{Collections: 1, Vectors: int64(st.Count), StorageBytes: st.MemoryBytes, DiskBytes: st.DiskBytes}
}
