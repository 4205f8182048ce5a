package filter

import (
	"encoding/json"
	"strconv"
)

// matcher is one compiled node of a filter. Implementations hold only
// pre-computed, read-only data, so a compiled tree is safe for concurrent use,
// and match allocates nothing.
type matcher interface {
	match(meta map[string]any) bool
	// matchJSON is match on the metadata as JSON text (matchjson.go).
	matchJSON(doc []byte) bool
}

// matchAll is the empty filter {}.
type matchAll struct{}

func (matchAll) match(map[string]any) bool { return true }

// andMatcher is $and, or the implicit AND of several members in one object.
type andMatcher []matcher

func (a andMatcher) match(meta map[string]any) bool {
	for _, m := range a {
		if !m.match(meta) {
			return false
		}
	}
	return true
}

type orMatcher []matcher

func (o orMatcher) match(meta map[string]any) bool {
	for _, m := range o {
		if m.match(meta) {
			return true
		}
	}
	return false
}

type notMatcher struct{ m matcher }

func (n notMatcher) match(meta map[string]any) bool { return !n.m.match(meta) }

// fieldMatcher applies every operator given for one field (they are ANDed) to
// the field's value, resolving the dot path once.
type fieldMatcher struct {
	path []string // the field name split at dots, at parse time
	ops  []fieldOp
}

func (f *fieldMatcher) match(meta map[string]any) bool {
	v, present := lookup(meta, f.path)
	for i := range f.ops {
		if !f.ops[i].test(v, present) {
			return false
		}
	}
	return true
}

// lookup follows path through nested objects. Any step that is absent or is
// not an object makes the field missing; arrays are not descended into.
func lookup(meta map[string]any, path []string) (any, bool) {
	cur := meta
	last := len(path) - 1
	for _, seg := range path[:last] {
		next, ok := cur[seg].(map[string]any)
		if !ok {
			return nil, false
		}
		cur = next
	}
	v, ok := cur[path[last]]
	return v, ok
}

// fieldOp is one operator applied to a field. $exists only looks at presence;
// every other operator is a positive condition c ($eq, $in, $gt, ...),
// possibly negated ($ne is not-$eq, $nin is not-$in).
type fieldOp struct {
	exists bool // this is $exists; want says true or false
	want   bool
	c      cond
	negate bool
}

func (o *fieldOp) test(v any, present bool) bool {
	if o.exists {
		return present == o.want
	}
	if !present {
		// A missing field satisfies no positive condition, so it satisfies
		// every negated one (MongoDB's rule for $ne and $nin).
		return o.negate
	}
	return anyElement(o.c, v) != o.negate
}

// cond is a positive condition on one scalar. It has one method per scalar
// type so that elements of typed slices ([]string, []float64) are tested
// without boxing them into interfaces, which would allocate.
type cond interface {
	num(f float64) bool
	str(s string) bool
	boolean(b bool) bool
}

// anyElement reports whether v, or any element of v when v is an array,
// satisfies c. Only one level of array is looked into.
func anyElement(c cond, v any) bool {
	switch a := v.(type) {
	case []any:
		for _, e := range a {
			if scalar(c, e) {
				return true
			}
		}
		return false
	case []string:
		for _, s := range a {
			if c.str(s) {
				return true
			}
		}
		return false
	case []float64:
		for _, f := range a {
			if c.num(f) {
				return true
			}
		}
		return false
	case []int:
		for _, n := range a {
			if c.num(float64(n)) {
				return true
			}
		}
		return false
	case []int64:
		for _, n := range a {
			if c.num(float64(n)) {
				return true
			}
		}
		return false
	case []bool:
		for _, b := range a {
			if c.boolean(b) {
				return true
			}
		}
		return false
	}
	return scalar(c, v)
}

// scalar tests one metadata value against c. Values of any other type
// (null, objects, nested arrays) satisfy no condition.
func scalar(c cond, v any) bool {
	switch x := v.(type) {
	case string:
		return c.str(x)
	case float64:
		return c.num(x)
	case bool:
		return c.boolean(x)
	case json.Number:
		f, ok := numberValue(x)
		return ok && c.num(f)
	case int:
		return c.num(float64(x))
	case int64:
		return c.num(float64(x))
	case int32:
		return c.num(float64(x))
	case int16:
		return c.num(float64(x))
	case int8:
		return c.num(float64(x))
	case uint:
		return c.num(float64(x))
	case uint64:
		return c.num(float64(x))
	case uint32:
		return c.num(float64(x))
	case uint16:
		return c.num(float64(x))
	case uint8:
		return c.num(float64(x))
	case float32:
		return c.num(float64(x))
	}
	return false
}

// numberValue converts a json.Number held in metadata. A number too large
// for float64 becomes ±Inf and still compares sensibly; text that is not a
// number at all is treated as no number.
func numberValue(n json.Number) (float64, bool) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return 0, false
		}
	}
	return f, true
}

// eqCond is $eq (and, negated, $ne). Exactly one of the typed fields is
// meaningful, chosen by kind; values of other types are never equal.
type eqCond struct {
	kind jsonKind // kindNumber, kindString or kindBool
	f    float64
	s    string
	b    bool
}

func (c *eqCond) num(f float64) bool  { return c.kind == kindNumber && c.f == f }
func (c *eqCond) str(s string) bool   { return c.kind == kindString && c.s == s }
func (c *eqCond) boolean(b bool) bool { return c.kind == kindBool && c.b == b }

// inSetAt is the list length above which $in looks values up in a map
// instead of scanning the list.
const inSetAt = 8

// inCond is $in (and, negated, $nin): the list split by type, with short
// lists scanned and long ones hashed.
type inCond struct {
	nums     []float64
	numSet   map[float64]struct{}
	strs     []string
	strSet   map[string]struct{}
	hasTrue  bool
	hasFalse bool
}

func (c *inCond) num(f float64) bool {
	if c.numSet != nil {
		_, ok := c.numSet[f]
		return ok
	}
	for _, n := range c.nums {
		if n == f {
			return true
		}
	}
	return false
}

func (c *inCond) str(s string) bool {
	if c.strSet != nil {
		_, ok := c.strSet[s]
		return ok
	}
	for _, t := range c.strs {
		if t == s {
			return true
		}
	}
	return false
}

func (c *inCond) boolean(b bool) bool {
	if b {
		return c.hasTrue
	}
	return c.hasFalse
}

type rangeOp uint8

const (
	opGT rangeOp = iota
	opGTE
	opLT
	opLTE
)

// rangeCond is $gt, $gte, $lt or $lte against a number or a string. Numbers
// compare with numbers, strings with strings (byte-wise, which for UTF-8 is
// code point order); anything else is false.
type rangeCond struct {
	op    rangeOp
	isStr bool
	f     float64
	s     string
}

func (c *rangeCond) num(f float64) bool {
	if c.isStr {
		return false
	}
	switch c.op {
	case opGT:
		return f > c.f
	case opGTE:
		return f >= c.f
	case opLT:
		return f < c.f
	default:
		return f <= c.f
	}
}

func (c *rangeCond) str(s string) bool {
	if !c.isStr {
		return false
	}
	switch c.op {
	case opGT:
		return s > c.s
	case opGTE:
		return s >= c.s
	case opLT:
		return s < c.s
	default:
		return s <= c.s
	}
}

func (c *rangeCond) boolean(bool) bool { return false }
