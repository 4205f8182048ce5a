// Package ann measures an approximate-nearest-neighbour index the way
// ann-benchmarks and hnswlib's own benchmarks do: build once from a base set
// with N threads, then sweep the search-time ef and report recall@K, QPS and
// latency percentiles per ef, plus the speed of exact (brute-force) search.
//
// It knows nothing about AkiDB's engine: anything that implements Index can
// be measured (the engine through an adapter, a brute-force index in tests).
// It imports only the standard library and bench/dataset.
//
// # Measurement rules
//
//   - Build: rows are handed out in chunks of Config.ChunkRows (default 1000)
//     from an atomic counter to Config.Threads goroutines, so the insertion
//     order differs from a one-thread build. Build time is wall time from the
//     first Add to the last. Progress, if asked for, is one line rewritten
//     with '\r' by a ticker goroutine that only reads an atomic counter, so it
//     costs the build nothing measurable; the line ends with '\n'.
//   - Search: one query thread. Before the sweep, Config.WarmupQueries
//     (default min(300, queries)) untimed searches run at the first ef.
//     Every query is timed alone
//     (clock read before and after Search); QPS = queries / sum of those
//     times, p50/p99 are nearest-rank percentiles of them. Recall and id
//     checks happen outside the timed region.
//   - Recall@K is dataset.Recall against the first K ground-truth ids.
//   - Exact search is timed the same way on the first Config.ExactQueries
//     queries (default min(1000, queries)); its recall should be 1.0.
//
// # Ground truth
//
// When Run is given nil ground truth it computes it with dataset.GroundTruth:
// "l2" uses squared L2, "dot" uses 1 - dot, "cosine" uses 1 - dot on unit
// normalised copies of base and queries (the caller's matrices are never
// modified). For cosine the Index itself is responsible for normalising what
// it stores and what it is asked. Ties go to the lower row index.
package ann
