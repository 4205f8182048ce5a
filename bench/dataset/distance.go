package dataset

import "github.com/akidb/akidb/engine/distance"

// DistanceFunc returns a dissimilarity: smaller is closer.
type DistanceFunc func(a, b []float32) float32

// SquaredL2 is the squared Euclidean distance, computed by the engine's
// pure-Go reference kernel (not the SIMD one), so the ground truth does not
// depend on the kernels being measured. a and b must have equal length.
func SquaredL2(a, b []float32) float32 { return distance.L2SquaredGeneric(a, b) }

// DotDistance is 1 - <a, b>: the inner-product distance, and the cosine
// distance when a and b have unit norm. a and b must have equal length.
func DotDistance(a, b []float32) float32 { return 1 - distance.DotGeneric(a, b) }
