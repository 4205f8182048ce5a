package hnsw

import (
	"errors"
	"fmt"

	"github.com/akidb/akidb/engine/distance"
)

// Limits on the configuration. They bound what New accepts and what Decode
// believes, so that a hostile encoding cannot ask for absurd allocations.
const (
	// DefaultM is the number of links a node keeps on layers >= 1 (twice
	// that on layer 0). 16 is hnswlib's and most benchmarks' choice: higher
	// M raises recall at a fixed ef, at the cost of memory and build time.
	DefaultM = 16
	// DefaultEfConstruction is the candidate-list size used while linking a
	// new node. Larger builds a better graph, more slowly.
	DefaultEfConstruction = 200

	MinM              = 2
	MaxM              = 100
	MaxEfConstruction = 5000
	// MaxDim bounds the vector dimension. One arena chunk holds chunkSize
	// vectors, so this also bounds one chunk to 16 MiB.
	MaxDim = 16384
	// MaxNodes bounds the number of ids a graph hands out (ids are uint32,
	// and math.MaxUint32 means "no node" in oldToNew and the encoding).
	MaxNodes = 1<<31 - 1
	// maxLevel caps the level of a node. With M >= 2 and a 53-bit uniform,
	// floor(-ln(U)/ln(M)) never exceeds 53, so the cap only guards Decode.
	maxLevel = 63
)

// Config describes a graph. The zero values of M and EfConstruction select
// the defaults.
type Config struct {
	// Dim is the vector dimension, 1..MaxDim.
	Dim int
	// Metric chooses the distance. For Cosine the CALLER normalises vectors
	// (distance.Normalize) before Add and Search; the graph then ranks by
	// 1 - <a,b>, exactly as for InnerProduct.
	Metric distance.Metric
	// M is the number of links per node on layers >= 1; layer 0 keeps 2*M.
	// Default 16, valid 2..100.
	M int
	// EfConstruction is the search width used when inserting.
	// Default 200, valid 1..5000.
	EfConstruction int
	// Seed seeds the level generator. The same seed and the same
	// single-threaded insert order give an identical graph (and identical
	// Encode bytes).
	Seed int64
	// InitialCapacity pre-allocates arena space for this many vectors. It
	// is only a hint; the graph grows as needed.
	InitialCapacity int
	// Alloc, when set, provides the memory of the layer-0 lists and the
	// code blocks (alloc.go); nil means the Go heap. It is not part of
	// the encoding: Decode takes it as an argument.
	Alloc Allocator
}

// Errors that callers may branch on.
var (
	// ErrInvalidConfig is returned by New for a configuration out of range.
	ErrInvalidConfig = errors.New("hnsw: invalid config")
	// ErrDimension is returned by Add for a vector of the wrong length.
	ErrDimension = errors.New("hnsw: vector dimension mismatch")
	// ErrInvalidVector is returned by Add for a vector holding NaN or ±Inf.
	ErrInvalidVector = errors.New("hnsw: vector has a non-finite component")
	// ErrFull is returned by Add when MaxNodes ids have been handed out.
	ErrFull = errors.New("hnsw: graph is full")
	// ErrNotFound is returned by Delete for an id that was never added.
	ErrNotFound = errors.New("hnsw: no such node")
	// ErrCorrupt is wrapped by every Decode error about the input's content.
	ErrCorrupt = errors.New("hnsw: corrupt encoding")
	// ErrStopped is returned by SearchUntil and ExactSearchUntil when
	// their stop function asked them to end (a deadline passed).
	ErrStopped = errors.New("hnsw: search stopped")
	// ErrInterrupted is returned by SearchUntil and ExactSearchUntil when
	// they gave way to a Vacuum, which renumbers nodes: search again once
	// it is done.
	ErrInterrupted = errors.New("hnsw: search gave way to a vacuum")
)

// withDefaults fills zero knobs and validates the rest.
func (c Config) withDefaults() (Config, error) {
	if c.M == 0 {
		c.M = DefaultM
	}
	if c.EfConstruction == 0 {
		c.EfConstruction = DefaultEfConstruction
	}
	switch {
	case c.Dim < 1 || c.Dim > MaxDim:
		return c, fmt.Errorf("%w: dim %d not in 1..%d", ErrInvalidConfig, c.Dim, MaxDim)
	case !c.Metric.Valid():
		return c, fmt.Errorf("%w: unknown metric %d", ErrInvalidConfig, uint8(c.Metric))
	case c.M < MinM || c.M > MaxM:
		return c, fmt.Errorf("%w: M %d not in %d..%d", ErrInvalidConfig, c.M, MinM, MaxM)
	case c.EfConstruction < 1 || c.EfConstruction > MaxEfConstruction:
		return c, fmt.Errorf("%w: ef_construction %d not in 1..%d", ErrInvalidConfig, c.EfConstruction, MaxEfConstruction)
	case c.InitialCapacity < 0 || c.InitialCapacity > MaxNodes:
		return c, fmt.Errorf("%w: initial capacity %d not in 0..%d", ErrInvalidConfig, c.InitialCapacity, MaxNodes)
	}
	return c, nil
}
