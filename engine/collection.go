package engine

import (
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/hnsw"
	"github.com/akidb/akidb/engine/payload"
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
	// Quantization is the collection's quantization settings (none by
	// default); unlike the rest it can change later (SetQuantization).
	Quantization Quantization
	// Indexes declares payload indexes at creation, field -> type
	// (keyword, integer or float; indexes.go).
	Indexes map[string]string
	// TierPolicy is the initial tiering policy of a collection made with
	// DB.CreateCollection ("": the DB's default); it can change later
	// (DB.SetTierPolicy). In-memory collections ignore it.
	TierPolicy string
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
	q, err := cfg.Quantization.withDefaults()
	if err != nil {
		return cfg, err
	}
	cfg.Quantization = q
	if err := ValidateIndexes(cfg.Indexes); err != nil {
		return cfg, err
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
	// MappedBytes is the part of MemoryBytes in file-backed shared
	// mappings rather than the heap: the graph's layer-0 lists and codes
	// when the originals are on disk (page cache, which the kernel may
	// drop under memory pressure and read back). Zero otherwise.
	MappedBytes int64 `json:"mapped_bytes"`
	// DiskBytes is what the collection's files hold: its log segments
	// (allocated ahead of the records in them) and its snapshots. Zero
	// for an in-memory Collection.
	DiskBytes  int64  `json:"disk_bytes"`
	AppliedSeq uint64 `json:"applied_seq"`
	// Quantization is the quantization settings and the state of the
	// background work that applies them.
	Quantization QuantizationStatus `json:"quantization"`
}

// Collection is an in-memory set of records indexed by an HNSW graph. It is
// safe for concurrent use.
type Collection struct {
	cfg   CollectionConfig
	graph *hnsw.Graph

	// mu guards byID and the counters below, and serialises the writers'
	// changes to slots. Writers hold it only to publish finished graph
	// insertions; searches do not take it for their scan (slots.go).
	mu        sync.RWMutex
	byID      map[string]uint32 // live records: external id -> node
	applied   uint64            // highest sequence number applied
	idBytes   int64             // bytes of live external ids
	metaBytes int64             // bytes of live metadata, as compact JSON
	// generation changes whenever node ids are renumbered (vacuum), which
	// invalidates scroll cursors and searches in flight.
	generation uint32
	failed     error
	// slots holds node -> published record, read without mu; live mirrors
	// len(byID) for readers that do not take mu.
	slots atomic.Pointer[slotTable]
	live  atomic.Int64
	// idx holds the payload indexes and the bitmap of live nodes, changed
	// with the slots (under mu) and read by planners without mu
	// (indexes.go).
	idx *payload.Set
	// builds tracks background index builds (indexes.go).
	builds indexBuilds
	// renumbering is a sequence counter around each vacuum: odd while one
	// renumbers nodes, even otherwise. A search that saw it change (or
	// odd) may have paired node ids of one numbering with another's
	// records, and starts again.
	renumbering atomic.Uint64

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
	scanHook   func() // test hook, run where a search checks its context

	// q is the quantization machinery (quantize.go).
	q quantizer
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
	c := newCollectionWithGraph(cfg, g, 0)
	for _, f := range sortedKeys(cfg.Indexes) {
		if err := c.CreateIndex(f, cfg.Indexes[f]); err != nil {
			return nil, fmt.Errorf("collection %s: %w", cfg.Name, err)
		}
	}
	return c, nil
}

func newCollectionWithGraph(cfg CollectionConfig, g *hnsw.Graph, applied uint64) *Collection {
	c := &Collection{
		cfg:     cfg,
		graph:   g,
		byID:    make(map[string]uint32),
		applied: applied,
		nextSeq: applied,
	}
	c.slots.Store(slotsFor(0))
	c.idx = payload.NewSet()
	c.turn = sync.NewCond(&c.mu)
	c.staged = make(map[uint32]struct{})
	c.stageLimit = DefaultStageLimit
	c.stageRoom = sync.NewCond(&c.mu)
	c.stageEmpty = sync.NewCond(&c.mu)
	c.initQuant(cfg.Quantization)
	return c
}

// Config returns the collection's configuration (with defaults filled in
// and the current quantization settings).
func (c *Collection) Config() CollectionConfig {
	cfg := c.cfg
	c.q.mu.Lock()
	cfg.Quantization = c.q.target
	c.q.mu.Unlock()
	return cfg
}

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
	mem := c.graph.MemoryBytes() + c.recordsMemoryLocked()
	return Stats{
		Name: c.cfg.Name, Dimension: c.cfg.Dimension, Metric: c.cfg.Metric.String(),
		M: c.cfg.M, EfConstruction: c.cfg.EfConstruction,
		Count: len(c.byID), Deleted: c.graph.Deleted(), MemoryBytes: mem, AppliedSeq: c.applied,
		MappedBytes:  c.mappedStats().InUseBytes,
		Quantization: c.QuantizationStatus(),
	}
}

// Per live record beyond its vector and links (in the graph's figure): the
// byID map entry and the slot (id string header, metadata map pointer,
// size), allocation rounding included.
const recordOverhead = 48 + 48

// recordsMemoryLocked is what the records hold beside the graph: ids and
// metadata (as compact JSON: the decoded maps take somewhat more), per
// record overhead, and the slot table. Tombstoned nodes hold none of it
// (their vectors and links stay in the graph's figure until a vacuum);
// c.mu must be held.
func (c *Collection) recordsMemoryLocked() int64 {
	return c.idBytes + c.metaBytes + int64(len(c.byID))*recordOverhead + int64(c.slots.Load().nodes())*8
}

// appliedSeq is the highest sequence number applied.
func (c *Collection) appliedSeq() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.applied
}
