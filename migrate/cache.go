package migrate

// cachedRecord is a record the plan parsed and keeps for the load, so
// that a line is parsed once when memory allows (Options.PlanCacheBytes).
type cachedRecord struct {
	id       string
	vector   []float32
	metadata map[string]any
	// size is what the record counts against the cache.
	size int64
}

// footprint estimates the bytes a record holds: its vector and id, its
// metadata (taken as four times the length of its JSON, for the maps,
// strings and interface values) and a fixed overhead.
func footprint(p parsed) int64 {
	n := int64(4*cap(p.vector) + len(p.id) + 96)
	if len(p.metadata) > 0 {
		n += 4 * int64(p.metaLen)
	}
	return n
}
