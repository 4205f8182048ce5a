package api

import (
	"encoding/json"
	"time"
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
}

// CollectionStats are a collection's live figures.
type CollectionStats struct {
	Count       int   `json:"count"`
	Deleted     int   `json:"deleted"`
	MemoryBytes int64 `json:"memory_bytes"`
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
	// Quantization is the collection's quantization settings.
	Quantization QuantizationSettings `json:"quantization"`
	Stats        *CollectionStats     `json:"stats,omitempty"`
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
	// filtered_graph or filtered_exact.
	Strategy string `json:"strategy"`
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
