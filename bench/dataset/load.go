package dataset

import (
	"fmt"
	"strings"
)

// Load reads a float vector file, choosing the reader from the file name:
// *.fvecs, *.bvecs, or an IDX image file (*-idx3-ubyte, *.idx3-ubyte, *.idx,
// each optionally ending in .gz). maxRows as for ReadFvecs.
func Load(path string, maxRows int) (Matrix, error) {
	name := strings.ToLower(path)
	switch {
	case strings.HasSuffix(name, ".fvecs"):
		return ReadFvecs(path, maxRows)
	case strings.HasSuffix(name, ".bvecs"):
		return ReadBvecs(path, maxRows)
	}
	base := strings.TrimSuffix(name, ".gz")
	if strings.HasSuffix(base, "idx3-ubyte") || strings.HasSuffix(base, ".idx") {
		return ReadIDX(path, maxRows)
	}
	return Matrix{}, fmt.Errorf("load %s: unknown format (want .fvecs, .bvecs or an IDX *-idx3-ubyte[.gz] file)", path)
}
