//go:build noasm || !(amd64 || arm64)

package distance

// archInt8: with the noasm build tag, or on an architecture without
// assembly kernels, only the generic int8 set exists.
func archInt8() []int8Set { return nil }
