package engine

import (
	"fmt"
	"regexp"
	"sync"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/hnsw"
)

// Limits enforced by the engine itself, whatever the transport.
const (
	MaxIDBytes = 256
	// MaxMetadataBytes caps a record's metadata, measured as compact JSON.
	MaxMetadataBytes = 64 << 10
	MaxDimension     = 8192
	MaxK             = 10000
	MaxEf            = 10000
	// DefaultEf is the query-time beam width when a request names none.
	DefaultEf = 64
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidateName checks a collection (or tenant) name: 1..64 of [A-Za-z0-9_-].
func ValidateName(name string) error {
	if !namePattern.MatchString(name) {
		return invalid("name", "%q is not a valid name: use 1 to 64 characters from A-Z a-z 0-9 _ -", name)
	}
	return nil
}

// CollectionConfig fixes a collection's shape at creation.
type CollectionConfig struct {
	Name           string
	Dimension      int
	Metric         distance.Metric
	M              int   // HNSW links per node (layer 0 has 2*M); default 16
	EfConstruction int   // HNSW build beam width; default 200
	Seed           int64 // level RNG seed, for reproducible graphs
}

// withDefaults fills unset HNSW parameters and validates the rest.
func (cfg CollectionConfig) withDefaults() (CollectionConfig, error) {
	if err := ValidateName(cfg.Name); err != nil {
		return cfg, err
	}
	if cfg.Dimension < 1 || cfg.Dimension > MaxDimension {
		return cfg, invalid("dimension", "must be between 1 and %d, got %d", MaxDimension, cfg.Dimension)
	}
	if !cfg.Metric.Valid() {
		return cfg, invalid("metric", "must be cosine, l2 or dot")
	}
	if cfg.M == 0 {
		cfg.M = 16
	}
	if cfg.EfConstruction == 0 {
		cfg.EfConstruction = 200
	}
	if cfg.M < 2 || cfg.M > 100 {
		return cfg, invalid("hnsw.m", "must be between 2 and 100, got %d", cfg.M)
	}
	if cfg.EfConstruction < 1 || cfg.EfConstruction > 5000 {
		return cfg, invalid("hnsw.ef_construction", "must be between 1 and 5000, got %d", cfg.EfConstruction)
	}
	return cfg, nil
}

// Record is one stored item: the caller's id, its vector and a JSON object
// of metadata (decoded by encoding/json: numbers are float64).
type Record struct {
	ID       string
	Vector   []float32
	Metadata map[string]any
	// MetadataJSON, when not nil, is the metadata as one JSON object and
	// is used instead of Metadata by PrepareUpsert (reads leave it nil).
	// The serving layer decodes request bodies straight to JSON, so
	// marshalling a map again would only double what a batch holds.
	MetadataJSON []byte
}

// Stats describes a collection for status endpoints.
type Stats struct {
	Name           string `json:"name"`
	Dimension      int    `json:"dimension"`
	Metric         string `json:"metric"`
	M              int    `json:"m"`
	EfConstruction int    `json:"ef_construction"`
	Count          int    `json:"count"`
	Deleted        int    `json:"deleted"`
	MemoryBytes    int64  `json:"memory_bytes"`
	AppliedSeq     uint64 `json:"applied_seq"`
}

// Collection is an in-memory set of records indexed by an HNSW graph. It is
// safe for concurrent use.
type Collection struct {
	cfg   CollectionConfig
	graph *hnsw.Graph

	// mu guards the id maps below and is held for reading by searches.
	// Writers hold it only to publish finished graph insertions.
	mu      sync.RWMutex
	byID    map[string]uint32 // live records: external id -> node
	extID   []string          // node -> external id ("" until published)
	meta    []map[string]any  // node -> metadata
	applied uint64            // highest sequence number applied
	idBytes int64             // bytes of live external ids
	// generation changes whenever node ids are renumbered (vacuum), which
	// invalidates scroll cursors.
	generation uint32
	failed     error

	// writeGate is held shared by every write from before it takes its
	// sequence number until it is published, and exclusively by Vacuum,
	// which renumbers nodes and so must not run under an in-flight write.
	writeGate sync.RWMutex
	// turn orders publication by sequence number.
	turn *sync.Cond
	// seqMu guards nextSeq for collections without a log.
	seqMu   sync.Mutex
	nextSeq uint64

	// staged holds published nodes whose graph linking runs in the
	// background (stage.go); guarded by mu. stageRoom and stageEmpty (on
	// mu) wake writers waiting for room and drains waiting for none.
	staged     map[uint32]struct{}
	stageLimit int
	stageRoom  *sync.Cond
	stageEmpty *sync.Cond
	stageWaits int    // times a writer waited for room (tests)
	beforeLink func() // test hook, run by each background linker first
}

// NewCollection returns an empty in-memory collection.
func NewCollection(cfg CollectionConfig) (*Collection, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g, err := hnsw.New(hnsw.Config{Dim: cfg.Dimension, Metric: cfg.Metric, M: cfg.M, EfConstruction: cfg.EfConstruction, Seed: cfg.Seed})
	if err != nil {
		return nil, fmt.Errorf("collection %s: %w", cfg.Name, err)
	}
	return newCollectionWithGraph(cfg, g, 0), nil
}

func newCollectionWithGraph(cfg CollectionConfig, g *hnsw.Graph, applied uint64) *Collection {
	c := &Collection{
		cfg:     cfg,
		graph:   g,
		byID:    make(map[string]uint32),
		applied: applied,
		nextSeq: applied,
	}
	c.turn = sync.NewCond(&c.mu)
	c.staged = make(map[uint32]struct{})
	c.stageLimit = DefaultStageLimit
	c.stageRoom = sync.NewCond(&c.mu)
	c.stageEmpty = sync.NewCond(&c.mu)
	return c
}

// Config returns the collection's configuration (with defaults filled in).
func (c *Collection) Config() CollectionConfig { return c.cfg }

// Count returns the number of live records.
func (c *Collection) Count() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byID)
}

// Stats returns counts, memory and index parameters.
func (c *Collection) Stats() Stats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	// Graph (vectors + links), then per record the id string (held by the
	// map and the node slot) plus map entry overhead, then the node slots.
	mem := c.graph.MemoryBytes() + c.idBytes + int64(len(c.byID))*48 +
		int64(cap(c.extID))*16 + int64(cap(c.meta))*8
	return Stats{
		Name: c.cfg.Name, Dimension: c.cfg.Dimension, Metric: c.cfg.Metric.String(),
		M: c.cfg.M, EfConstruction: c.cfg.EfConstruction,
		Count: len(c.byID), Deleted: c.graph.Deleted(), MemoryBytes: mem, AppliedSeq: c.applied,
	}
}

// appliedSeq is the highest sequence number applied.
func (c *Collection) appliedSeq() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.applied
}
