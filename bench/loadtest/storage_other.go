//go:build !linux

package loadtest

// storageNote has nothing to say where the filesystem type is not checked.
func storageNote(string) string { return "" }
