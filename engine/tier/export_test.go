package tier

// ManifestLists exposes Manifest.lists to the external tests.
func ManifestLists(m *Manifest, key string) bool { return m.lists(key) }
