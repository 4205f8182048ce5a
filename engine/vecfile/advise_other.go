//go:build !linux

package vecfile

// adviseRandom does nothing where fadvise is not available.
func adviseRandom(any) error { return nil }
