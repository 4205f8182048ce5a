//go:build noasm || !(amd64 || arm64)

package distance

// archKernels: with the noasm build tag, or on an architecture without
// assembly kernels, only the generic set exists.
func archKernels() []kernelSet { return nil }
