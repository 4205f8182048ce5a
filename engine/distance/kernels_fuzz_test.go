package distance

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzKernels compares every kernel with the float64 reference on vectors
// decoded from the fuzzer's bytes: four bytes per element, the first half
// of the elements for a and the rest for b. Values that are not finite or
// beyond ±1e17 (where sums could overflow float32) are folded into range,
// so the reference tolerance applies.
func FuzzKernels(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}) // a={1}, b={2}
	f.Add(make([]byte, 8*37))                      // zeros, odd length
	f.Add([]byte("sixty-four bytes of text give eight floats per vector ........"))
	big := make([]byte, 8*70)
	for i := 0; i < len(big); i += 4 {
		binary.LittleEndian.PutUint32(big[i:], math.Float32bits(float32(i%13-6)*1e16))
	}
	f.Add(big)
	f.Fuzz(func(t *testing.T, data []byte) {
		n := len(data) / 8
		v := make([]float32, 2*n)
		for i := range v {
			x := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			switch {
			case math.IsNaN(float64(x)) || math.IsInf(float64(x), 0):
				x = 0
			case math.Abs(float64(x)) > 1e17:
				x = float32(math.Mod(float64(x), 1e17))
			}
			v[i] = x
		}
		checkKernels(t, "fuzz", v[:n:n], v[n:])
	})
}
