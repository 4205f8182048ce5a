package annengine

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/akidb/akidb/bench/dataset"
	"github.com/akidb/akidb/bench/loadtest"
)

// DefaultSyntheticQueries is how many queries --synthetic draws when
// --max-queries does not say.
const DefaultSyntheticQueries = 1000

// maxSyntheticValues bounds N*DIM of --synthetic (16 GiB of float32).
const maxSyntheticValues = 1 << 32

// synthetic draws the base set and queries --synthetic N:DIM[:CLUSTERS]
// asks for, from the load test's clustered Gaussian source (a seeded
// mixture: real embeddings cluster like this).
func synthetic(spec string, queries int, seed uint64) (base, q dataset.Matrix, err error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return base, q, fmt.Errorf("--synthetic %q: want N:DIM or N:DIM:CLUSTERS", spec)
	}
	nums := make([]int, 3)
	nums[2] = loadtest.DefaultClusters
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 {
			return base, q, fmt.Errorf("--synthetic %q: %q is not a positive integer", spec, p)
		}
		nums[i] = v
	}
	n, dim, clusters := nums[0], nums[1], nums[2]
	if dim > dataset.MaxDim || int64(n)*int64(dim) > maxSyntheticValues {
		return base, q, fmt.Errorf("--synthetic %q: at most %d dimensions and %d values", spec, dataset.MaxDim, int64(maxSyntheticValues))
	}
	if queries <= 0 {
		queries = DefaultSyntheticQueries
	}
	src, err := loadtest.NewClustered(dim, clusters, seed)
	if err != nil {
		return base, q, fmt.Errorf("--synthetic: %w", err)
	}
	if base, err = dataset.NewMatrix(n, dim); err != nil {
		return base, q, err
	}
	if q, err = dataset.NewMatrix(queries, dim); err != nil {
		return base, q, err
	}
	for i := range n {
		src.Record(uint64(i), base.Row(i))
	}
	for j := range queries {
		src.Query(uint64(j), q.Row(j))
	}
	return base, q, nil
}
