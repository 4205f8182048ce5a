package distance

// L2SquaredGeneric is the pure-Go reference for squared Euclidean distance.
// It reads len(a) elements of each slice and assumes len(b) >= len(a);
// callers check dimensions at the edge.
func L2SquaredGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// DotGeneric is the pure-Go reference for the inner product, with the same
// length rules as L2SquaredGeneric.
func DotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// innerProductDistanceGeneric is 1 - DotGeneric(a, b), written out so that
// the generic set needs no closure over another function variable.
func innerProductDistanceGeneric(a, b []float32) float32 {
	return 1 - DotGeneric(a, b)
}
