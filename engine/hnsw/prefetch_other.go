//go:build (!amd64 && !arm64) || noasm

package hnsw

// prefetchLines is a no-op where there is no assembly version.
func prefetchLines(p *float32, n int) {}
