package api

import (
	"encoding/json"
	"time"

	"github.com/akidb/akidb/engine"
)

// HNSWParams are a collection's index parameters.
type HNSWParams struct {
	M              int `json:"m,omitempty"`
	EfConstruction int `json:"ef_construction,omitempty"`
}

// CreateCollectionRequest is the body of POST /api/v1/collections.
type CreateCollectionRequest struct {
	Name      string     `json:"name"`
	Dimension int        `json:"dimension"`
	Metric    string     `json:"metric"`
	HNSW      HNSWParams `json:"hnsw"`
	// Quantization turns on int8 quantization (docs/quantization.md);
	// absent means none.
	Quantization *QuantizationSettings `json:"quantization,omitempty"`
	// Indexes declares payload indexes, metadata field -> keyword,
	// integer or float (docs/filters.md).
	Indexes map[string]string `json:"indexes,omitempty"`
	// TierPolicy is memory, memory-s3 or s3-only ("": the server's
	// --tier-policy).
	TierPolicy string `json:"tier_policy,omitempty"`
}

// UpdateCollectionRequest is the body of PATCH /api/v1/collections/{name}:
// the fields given change, the others stay.
type UpdateCollectionRequest struct {
	TierPolicy *string `json:"tier_policy,omitempty"`
	// Quantization changes the quantization settings; the collection
	// re-encodes in the background (its stats report the work) and
	// answers searches and writes throughout.
	Quantization *QuantizationSettings `json:"quantization,omitempty"`
}

// CheckpointResponse answers POST /admin/collections/{name}/checkpoint.
type CheckpointResponse struct {
	Collection string `json:"collection"`
	// SnapshotSeq is the log sequence number the collection's newest
	// snapshot covers (0: the collection is empty and has none).
	SnapshotSeq uint64 `json:"snapshot_seq"`
	TierPolicy  string `json:"tier_policy"`
	// UploadQueued: the collection is memory-s3 or s3-only and its
	// snapshot is queued for upload (GET /admin/storage/status follows it).
	UploadQueued bool `json:"upload_queued"`
}

// ResidencyResponse answers POST /admin/collections/{name}/load and
// /evict: where the collection's state is now (docs/tiering.md).
type ResidencyResponse struct {
	Collection string `json:"collection"`
	TierPolicy string `json:"tier_policy"`
	// LoadState is resident, evicting, evicted, loading or unavailable.
	LoadState string `json:"load_state"`
	// MemoryBytes is what the collection takes in memory (while it is
	// evicted: what it took when it left).
	MemoryBytes int64      `json:"memory_bytes"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	// LoadSource is where the last load read the state: local (the
	// snapshot and log on this disk) or store (the object store).
	LoadSource  string  `json:"load_source,omitempty"`
	LoadSeconds float64 `json:"load_seconds"`
	Loads       uint64  `json:"loads"`
	Evictions   uint64  `json:"evictions"`
}

// CollectionStats are a collection's live figures.
type CollectionStats struct {
	Count       int   `json:"count"`
	Deleted     int   `json:"deleted"`
	MemoryBytes int64 `json:"memory_bytes"`
	// MappedBytes is the part of MemoryBytes in file-backed memory (page
	// cache): the graph's lists and codes when the originals are on disk.
	MappedBytes int64 `json:"mapped_bytes,omitempty"`
	DiskBytes   int64 `json:"disk_bytes"`
	// Quantization is the state of the collection's quantization.
	Quantization *QuantizationStatus `json:"quantization,omitempty"`
}

// Collection describes a collection.
type Collection struct {
	Name      string     `json:"name"`
	Dimension int        `json:"dimension"`
	Metric    string     `json:"metric"`
	HNSW      HNSWParams `json:"hnsw"`
	CreatedAt time.Time  `json:"created_at"`
	// TierPolicy is memory, memory-s3 or s3-only (docs/tiering.md).
	TierPolicy string `json:"tier_policy"`
	// LoadState is resident, evicting, evicted, loading or unavailable:
	// describing a collection never loads it (its stats are then as of
	// when it left memory).
	LoadState string `json:"load_state"`
	// Quantization is the collection's quantization settings.
	Quantization QuantizationSettings `json:"quantization"`
	Stats        *CollectionStats     `json:"stats,omitempty"`
	// Indexes are the payload indexes, with their state; set with Stats.
	Indexes []Index `json:"indexes,omitempty"`
}

// Index describes a payload index on a metadata field: its type, its
// state (building or ready) and its figures.
type Index = engine.IndexInfo

// CreateIndexRequest is the body of POST /collections/{name}/indexes.
type CreateIndexRequest struct {
	Field string `json:"field"`
	Type  string `json:"type"`
}

// IndexList is the body of GET /collections/{name}/indexes.
type IndexList struct {
	Indexes []Index `json:"indexes"`
}

// DeleteIndexResponse is the answer to DELETE .../indexes/{field}.
type DeleteIndexResponse struct {
	Deleted bool `json:"deleted"`
}

// CollectionList is the body of GET /api/v1/collections.
type CollectionList struct {
	Collections []Collection `json:"collections"`
}

// Vector is one record as sent and returned.
type Vector struct {
	ID       string         `json:"id"`
	Vector   []float32      `json:"vector,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// UpsertRequest is the body of POST /collections/{name}/insert.
type UpsertRequest struct {
	Vectors []Vector `json:"vectors"`
}

// UpsertResponse reports how many records were written.
type UpsertResponse struct {
	Upserted int `json:"upserted"`
}

// QueryRequest is the body of POST /collections/{name}/query.
type QueryRequest struct {
	Vector []float32 `json:"vector"`
	K      int       `json:"k"`
	Ef     int       `json:"ef,omitempty"`
	// Rerank is how many of the best candidates found on a quantized
	// collection's int8 codes are measured again with the float32
	// vectors; 0 means ef. Ignored by unquantized collections.
	Rerank int `json:"rerank,omitempty"`
	// Filter is a filter document (docs/filters.md); absent or null means none.
	Filter json.RawMessage `json:"filter,omitempty"`
	// Exact asks for a brute-force scan instead of the graph (the exact
	// answer, for recall checks).
	Exact           bool  `json:"exact,omitempty"`
	IncludeVector   bool  `json:"include_vector,omitempty"`
	IncludeMetadata *bool `json:"include_metadata,omitempty"` // default true
	// Explain returns the plan of a filtered query with its estimated
	// and true match counts (counting tests every candidate record).
	Explain bool `json:"explain,omitempty"`
}

// QueryHit is one query result.
type QueryHit struct {
	ID       string         `json:"id"`
	Score    float32        `json:"score"`
	Metadata map[string]any `json:"metadata,omitempty"`
	Vector   []float32      `json:"vector,omitempty"`
}

// QueryResponse is the answer to a query, best first.
type QueryResponse struct {
	Results []QueryHit `json:"results"`
	// Strategy says how the answer was found: graph, exact,
	// filtered_graph, filtered_exact (no payload index could narrow the
	// filter), index_exact, index_two_hop or index_graph.
	Strategy string `json:"strategy"`
	// Explain is the plan of a filtered query, when asked for.
	Explain *engine.Explain `json:"explain,omitempty"`
}

// DeleteRequest is the body of POST /collections/{name}/delete: ids or a
// filter, not both.
type DeleteRequest struct {
	IDs    []string        `json:"ids,omitempty"`
	Filter json.RawMessage `json:"filter,omitempty"`
}

// DeleteResponse reports how many records existed and were deleted.
type DeleteResponse struct {
	Deleted int `json:"deleted"`
}

// ScrollRequest is the query of GET /collections/{name}/vectors.
type ScrollRequest struct {
	Limit         int
	Cursor        string
	IncludeVector bool
}

// ScrollResponse is one page; NextCursor is empty at the end.
type ScrollResponse struct {
	Vectors    []Vector `json:"vectors"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// StatusResponse is the server's status for management clients.
type StatusResponse struct {
	Version     string `json:"version"`
	Ready       bool   `json:"ready"`
	Collections int    `json:"collections"`
	Vectors     int    `json:"vectors"`
	DataDir     string `json:"data_dir,omitempty"`
	UptimeS     int64  `json:"uptime_s"`
}
