// Package filterbench measures filtered search: recall@k against the exact
// filtered ground truth, QPS, p50/p99 latency and under-returns (answers
// with fewer than k results although k records match), for filters of
// chosen selectivities on a labelled dataset, next to unfiltered search on
// the same index. `akidb bench filter` is a thin wrapper around Run.
//
// The dataset is MNIST (train images as the base set, test images as the
// queries) with two metadata fields per record:
//
//   - digit: the image's label as a string ("0".."9"), indexed as a
//     keyword. It is correlated with the vector: a filter on one digit keeps
//     one cluster of the space, mostly not the query's own.
//   - r: a uniform random integer in [0, 1000) (seeded), indexed as an
//     integer. A filter on it keeps an even sprinkle over the space.
//
// For each target selectivity (0.1%, 1%, 10%, 50%, 90% by default) there is
// one filter on r alone and one using digit (a digit, digits, or a digit
// and a range of r); the report gives each filter's true selectivity.
//
// The engine is reached through Target, so that the same measurement runs
// against another build of AkiDB (docs/benchmarks.md explains how the
// comparison with the code before payload indexes was made). Ground truth
// is brute force over the records the filter matches, computed by the
// harness itself, never by the engine under test.
package filterbench
