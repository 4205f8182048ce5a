// Package filter owns AkiDB's metadata filter language: parsing a filter
// given as JSON (Mongo/Chroma style), validating it with errors that name the
// offending place, compiling it to a small tree of typed nodes, and matching
// that tree against a record's metadata (a map[string]any as encoding/json
// decodes it). It imports nothing else of AkiDB.
//
// The language, with examples, is specified in docs/filters.md. In short:
//
//	{"color": "red"}                          shorthand for {"color": {"$eq": "red"}}
//	{"price": {"$gte": 10, "$lt": 20}}        operators on one field are ANDed
//	{"a": 1, "b": 2}                          fields in one object are ANDed
//	{"$and": [f...]} {"$or": [f...]} {"$not": f}
//	$eq $ne $in $nin $gt $gte $lt $lte $exists, dot paths ("a.b") for nested objects
//
// Semantics chosen here (and documented for users):
//
//   - A missing field satisfies no positive condition ($eq, $in, $gt, $gte,
//     $lt, $lte are false) and therefore every negated one ($ne and $nin are
//     true), as in MongoDB. $exists tests presence; a field set to null is
//     present.
//   - When a field's value is an array, a positive condition holds if any
//     element satisfies it; $ne/$nin are the negations. Only one level of
//     array is looked into, and arrays are not traversed by dot paths.
//   - Comparing values of different types is false, never an error: numbers
//     compare with numbers (as float64), strings with strings (byte-wise).
//
// Design: Parse decodes the JSON itself (json.Decoder tokens, UseNumber) into
// an order-preserving tree so that the first error is reported
// deterministically, duplicate keys are refused and limits (MaxInputBytes,
// MaxDepth, MaxNodes, MaxInValues) are enforced before any deep recursion.
// Compilation pre-splits dot paths, resolves each field's path once for all
// its operators, and hashes long $in lists. Match uses type switches only, no
// reflection, and allocates nothing. The canonical JSON form (String,
// MarshalJSON) is computed once at parse time from the validated filter.
package filter
