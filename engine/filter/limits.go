package filter

// Limits that keep parsing and matching bounded whatever a client sends.
// Exceeding any of them is a *ParseError.
const (
	// MaxInputBytes is the largest filter Parse accepts, in bytes of JSON.
	MaxInputBytes = 64 << 10
	// MaxDepth is how deeply filters may nest. The top-level filter object is
	// at depth 1; each filter inside $and, $or or $not is one deeper than
	// the filter holding it.
	MaxDepth = 32
	// MaxNodes is the most conditions one filter may hold: every $and, $or
	// and $not counts one, and so does every operator applied to a field
	// (the shorthand {"f": v} is one $eq).
	MaxNodes = 1024
	// MaxInValues is the longest list $in or $nin accepts.
	MaxInValues = 1024
)

// maxJSONDepth bounds nesting while the JSON is decoded, before the filter
// structure is known. A valid filter at MaxDepth needs at most two JSON
// levels per filter level ($and object + array) plus three for the innermost
// field ({"f": {"$in": [...]}}); anything deeper is rejected early so that
// decoding never recurses far.
const maxJSONDepth = 2*MaxDepth + 3
