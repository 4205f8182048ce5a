//go:build race

package hnsw

// raceEnabled: the race detector makes sync.Pool drop a share of Puts on
// purpose, so pooled scratch is sometimes rebuilt.
const raceEnabled = true
