// Package payload owns AkiDB's payload indexes: per-field indexes over
// records' metadata that answer filter conditions with compressed bitmaps
// (github.com/RoaringBitmap/roaring/v2) of node slots instead of a test of
// every record, and the planner that turns a whole filter into bitmaps.
//
// An index covers one metadata field (a dot path, as filters write it) and
// has a type:
//
//   - keyword: strings and booleans; answers $eq, $ne, $in, $nin and string
//     ranges.
//   - integer: numbers that are whole (|v| <= 2^53); answers $eq, $ne, $in,
//     $nin and numeric ranges.
//   - float: every number; answers the same as integer.
//
// For each distinct value the index keeps the bitmap of the nodes whose
// field holds it (an array field puts a node under each of its elements),
// in a B-tree ordered by value so that ranges are a walk of the tree. Two
// more bitmaps per index keep the planner exact whatever the data holds:
// present (the field exists, whatever its value) answers $exists, and
// other (the field holds a value outside the index's type, say a number in
// a keyword field) marks nodes the index cannot judge, which the planner
// hands back as "maybe" for the filter to check. A Set also keeps the
// bitmap of all live nodes, which $not, $ne, $nin and $exists:false need.
//
// The planner (plan.go) evaluates the filter tree (engine/filter's Root)
// bottom-up into a pair of bitmaps per node: sure (nodes that certainly
// match) and cand (nodes that may match, a superset). An indexed condition
// gives sure = cand, except for the "other" nodes; a condition on a field
// without a ready index gives sure = {} and cand = every node. $and, $or
// and $not are bitmap operations on the pairs (and: both intersect; or:
// both unite; not: sure = live - cand, cand = live - sure). The filter then
// matches exactly sure, plus those of cand - sure that pass the filter
// itself, which only those nodes need.
//
// Concurrency: a Set has one RWMutex. Writers (publish, unpublish, index
// builds, renumbering after a vacuum) take it exclusively for the few
// bitmap updates of one record or batch; planners take it shared while they
// compute the result bitmaps, which they then own. Bitmaps inside the Set
// are never handed out. SearchPlan (plancache.go) keeps the plans of the
// last few filters, shared read-only between searches, until the next
// change to the Set.
//
// Indexes know nothing of node ids beyond their uint32 values: the engine
// says which node holds which metadata (as JSON text, read with
// engine/filter's JSON helpers) and renumbers them after a vacuum.
package payload
