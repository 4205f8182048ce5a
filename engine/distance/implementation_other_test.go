//go:build noasm || !(amd64 || arm64)

package distance

// wantImplementation: without assembly only the generic set exists.
func wantImplementation() string { return "generic" }
