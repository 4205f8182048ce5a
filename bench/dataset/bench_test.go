package dataset

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

// BenchmarkGroundTruth: one op = 10 queries x 10000 rows of dim 128, k=100.
func BenchmarkGroundTruth(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 9))
	base := randomMatrix(rng, 10000, 128)
	queries := randomMatrix(rng, 10, 128)
	for b.Loop() {
		if _, err := GroundTruth(context.Background(), base, queries, 100, SquaredL2, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFvecs: 10000 rows of dim 128 (5.1 MB).
func BenchmarkDecodeFvecs(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 9))
	var buf bytes.Buffer
	if err := WriteFvecs(&buf, randomMatrix(rng, 10000, 128)); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeFvecs(bytes.NewReader(data), int64(len(data)), 0); err != nil {
			b.Fatal(err)
		}
	}
}
