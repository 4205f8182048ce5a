//go:build race

package engine

// raceEnabled: the race detector makes sync.Pool drop a share of Puts on
// purpose, so pooled buffers (encoding/json's among them) are sometimes
// allocated again.
const raceEnabled = true
