// Package quant owns AkiDB's scalar int8 quantizer: it trains value ranges
// on a sample of a collection's vectors, turns vectors into int8 codes (one
// byte per dimension, a quarter of float32), and prepares queries so that
// the graph (engine/hnsw) measures distances to codes with the int8 kernels
// of engine/distance. The engine keeps the float32 originals (in memory or
// in a vectors file) and re-ranks the best candidates with them.
//
// # Codes
//
// A range [lo, hi] is cut into 256 levels of step s = (hi-lo)/255; a value
// x gets the code c = round((x-lo)/s) - 128 in -128..127 and stands for
// mid + s*c, mid = lo + 128*s. Values outside the range are clamped (and
// counted: Drift). Data on an integer grid that fits the range (MNIST's
// pixels 0..255) is represented exactly.
//
// # Ranges: per collection or per dimension
//
// RangesCollection uses one range for all dimensions; RangesDimension one
// per dimension. Train measures which ranks better on the data at hand
// (RangesAuto, the default): held-out sample vectors are queries, and the
// layout whose codes find more of their exact 10 nearest neighbours wins,
// collection ranges on a tie (within 0.005). Measured on 10,000-vector
// sets (docs/quantization.md has the table), the two are within about
// 0.01 of each other in recall@10 on MNIST, clustered Gaussian data and
// embedding-like unit vectors, per-dimension ranges win where dimensions
// have very different spreads, and collection ranges win by far where a
// few dimensions dominate the norm (the query's weights, quantized to 8
// bits, then lose the other dimensions). After re-ranking the best 20
// candidates in float32 both reach recall 1.0 on all but that last set.
//
// A range is the 0.01% and 99.99% quantiles of the sample's values (of all
// of them for a collection range, of one dimension's otherwise), not the
// extremes: one wild value would otherwise coarsen the whole grid, while
// clipping more (0.05%, 0.2% were measured) loses the extreme coordinates
// that ranking depends on.
//
// # Distances
//
// Prepare turns a query into a distance.Int8Query, whose distance to a
// code c is Scale*K(query code, c) + Bias + CorrWeight*corr(c):
//
//   - collection ranges with L2 or cosine are symmetric: the query is
//     encoded like a vector and K is L2Int8, so the distance is s² times an
//     exact integer (halved for cosine: for unit vectors |a-b|²/2 =
//     1 - <a,b>);
//   - everything else is asymmetric: <q, x> = sum q[i]*mid[i] + sum
//     q[i]*s[i]*c[i], the weights q*s rounded to int8 with a per-query
//     scale, K = DotInt8. Per-dimension L2 uses |q-x|² = |q-mid|² -
//     2 sum s*(q-mid)*c + sum (s*c)², whose last sum is the code's
//     correction term (HasCorr), computed once by Encode and stored with
//     the code.
//
// # Drift
//
// Encode counts the components it clamps. Drifted reports when, over at
// least 1,000 vectors encoded since training, the clamped fraction exceeds
// both four times the training sample's own and 0.5%: the data has moved
// outside the ranges, and the engine retrains at its next checkpoint.
//
// # Encoding of Params
//
// Params.MarshalBinary documents the byte layout; UnmarshalBinary validates
// every field (finite ranges with lo <= hi, counts matching the layout)
// and is fuzzed.
package quant
