package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// compiler turns a decoded filter into a matcher tree plus its canonical
// form, validating as it goes. It counts nodes against MaxNodes.
type compiler struct {
	nodes int
}

func (c *compiler) count(path string) error {
	c.nodes++
	if c.nodes > MaxNodes {
		return errorf(path, "filter has more than %d conditions", MaxNodes)
	}
	return nil
}

// filter compiles one filter object: the AND of its members, each either a
// logical operator ($and, $or, $not) or a field condition.
func (c *compiler) filter(v jsonValue, path string, depth int) (matcher, map[string]any, error) {
	if v.kind != kindObject {
		return nil, nil, errorf(path, "a filter must be an object, got %s", v.kind)
	}
	if depth > MaxDepth {
		return nil, nil, errorf(path, "nesting depth exceeds limit of %d", MaxDepth)
	}
	canon := make(map[string]any, len(v.obj))
	parts := make([]matcher, 0, len(v.obj))
	for _, mem := range v.obj {
		var (
			m   matcher
			cv  any
			err error
		)
		if strings.HasPrefix(mem.key, "$") {
			m, cv, err = c.logical(mem.key, mem.val, path, depth)
		} else {
			m, cv, err = c.field(mem.key, mem.val, path)
		}
		if err != nil {
			return nil, nil, err
		}
		parts = append(parts, m)
		canon[mem.key] = cv
	}
	switch len(parts) {
	case 0:
		return matchAll{}, canon, nil
	case 1:
		return parts[0], canon, nil
	}
	return andMatcher(parts), canon, nil
}

func (c *compiler) logical(op string, v jsonValue, path string, depth int) (matcher, any, error) {
	if err := c.count(path); err != nil {
		return nil, nil, err
	}
	switch op {
	case "$and", "$or":
		if v.kind != kindArray {
			return nil, nil, errorf(path, "%s needs an array of filters, got %s", op, v.kind)
		}
		if len(v.arr) == 0 {
			return nil, nil, errorf(path, "%s needs at least one filter, got an empty array", op)
		}
		kids := make([]matcher, len(v.arr))
		canon := make([]any, len(v.arr))
		for i, elem := range v.arr {
			m, cv, err := c.filter(elem, path+"."+op+"["+strconv.Itoa(i)+"]", depth+1)
			if err != nil {
				return nil, nil, err
			}
			kids[i], canon[i] = m, cv
		}
		if len(kids) == 1 {
			return kids[0], canon, nil
		}
		if op == "$and" {
			return andMatcher(kids), canon, nil
		}
		return orMatcher(kids), canon, nil
	case "$not":
		m, cv, err := c.filter(v, path+".$not", depth+1)
		if err != nil {
			return nil, nil, err
		}
		return notMatcher{m}, cv, nil
	case "$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists":
		return nil, nil, errorf(path, `%s applies to a field: write {"field": {%q: ...}}`, op, op)
	}
	return nil, nil, errorf(path, `unknown operator %q (field names cannot start with "$")`, op)
}

// field compiles the condition on one field: a bare value (shorthand for
// $eq) or an object of operators, ANDed.
func (c *compiler) field(name string, v jsonValue, parent string) (matcher, any, error) {
	segs, msg := splitFieldName(name)
	if msg != "" {
		return nil, nil, &ParseError{Path: parent, Msg: msg}
	}
	path := parent + pathElem(name)
	fm := &fieldMatcher{path: segs}
	switch v.kind {
	case kindString, kindNumber, kindBool:
		if err := c.count(path); err != nil {
			return nil, nil, err
		}
		cond, cv, err := eqOperand(v, path, "")
		if err != nil {
			return nil, nil, err
		}
		fm.ops = []fieldOp{{c: cond}}
		return fm, map[string]any{"$eq": cv}, nil
	case kindNull:
		return nil, nil, errorf(path, `needs a value or an object of operators, got null (to match a missing field use {"$exists": false})`)
	case kindArray:
		return nil, nil, errorf(path, `needs a value or an object of operators, got array (to match any of several values use {"$in": [...]})`)
	}
	if len(v.obj) == 0 {
		return nil, nil, errorf(path, "needs at least one operator, got an empty object")
	}
	canon := make(map[string]any, len(v.obj))
	for _, mem := range v.obj {
		if err := c.count(path); err != nil {
			return nil, nil, err
		}
		op, cv, err := c.operator(mem.key, mem.val, path, name)
		if err != nil {
			return nil, nil, err
		}
		fm.ops = append(fm.ops, op)
		canon[mem.key] = cv
	}
	return fm, canon, nil
}

func (c *compiler) operator(op string, v jsonValue, path, name string) (fieldOp, any, error) {
	switch op {
	case "$eq", "$ne":
		cond, cv, err := eqOperand(v, path, op)
		return fieldOp{c: cond, negate: op == "$ne"}, cv, err
	case "$gt", "$gte", "$lt", "$lte":
		cond, cv, err := rangeOperand(op, v, path)
		return fieldOp{c: cond}, cv, err
	case "$in", "$nin":
		cond, cv, err := inOperand(op, v, path)
		return fieldOp{c: cond, negate: op == "$nin"}, cv, err
	case "$exists":
		if v.kind != kindBool {
			return fieldOp{}, nil, errorf(path, "$exists needs true or false, got %s", v.kind)
		}
		return fieldOp{exists: true, want: v.b}, v.b, nil
	case "$and", "$or", "$not":
		return fieldOp{}, nil, errorf(path, "%s combines whole filters and cannot be applied to a field's value", op)
	}
	if !strings.HasPrefix(op, "$") {
		return fieldOp{}, nil, errorf(path, `operator names start with "$", got %q (for a nested field write the dot path "%s.%s")`, op, name, op)
	}
	return fieldOp{}, nil, errorf(path, "unknown operator %q", op)
}

// eqOperand reads the operand of $eq or $ne (op is "" for the shorthand).
func eqOperand(v jsonValue, path, op string) (cond, any, error) {
	switch v.kind {
	case kindString:
		return &eqCond{kind: kindString, s: v.str}, v.str, nil
	case kindBool:
		return &eqCond{kind: kindBool, b: v.b}, v.b, nil
	case kindNumber:
		f, err := number(v, path, op)
		if err != nil {
			return nil, nil, err
		}
		return &eqCond{kind: kindNumber, f: f}, f, nil
	}
	return nil, nil, errorf(path, "%s needs a string, number or bool, got %s", op, v.kind)
}

func rangeOperand(op string, v jsonValue, path string) (cond, any, error) {
	r := &rangeCond{}
	switch op {
	case "$gt":
		r.op = opGT
	case "$gte":
		r.op = opGTE
	case "$lt":
		r.op = opLT
	default:
		r.op = opLTE
	}
	switch v.kind {
	case kindString:
		r.isStr, r.s = true, v.str
		return r, v.str, nil
	case kindNumber:
		f, err := number(v, path, op)
		if err != nil {
			return nil, nil, err
		}
		r.f = f
		return r, f, nil
	}
	return nil, nil, errorf(path, "%s needs a number or string, got %s", op, v.kind)
}

func inOperand(op string, v jsonValue, path string) (cond, any, error) {
	if v.kind != kindArray {
		return nil, nil, errorf(path, "%s needs an array, got %s", op, v.kind)
	}
	if len(v.arr) > MaxInValues {
		return nil, nil, errorf(path, "%s has %d values, limit is %d", op, len(v.arr), MaxInValues)
	}
	in := &inCond{}
	canon := make([]any, len(v.arr))
	for i, e := range v.arr {
		elemOp := op + "[" + strconv.Itoa(i) + "]"
		switch e.kind {
		case kindString:
			in.strs = append(in.strs, e.str)
			canon[i] = e.str
		case kindBool:
			if e.b {
				in.hasTrue = true
			} else {
				in.hasFalse = true
			}
			canon[i] = e.b
		case kindNumber:
			f, err := number(e, path, elemOp)
			if err != nil {
				return nil, nil, err
			}
			in.nums = append(in.nums, f)
			canon[i] = f
		default:
			return nil, nil, errorf(path, "%s needs a string, number or bool, got %s", elemOp, e.kind)
		}
	}
	if len(in.strs) > inSetAt {
		in.strSet = make(map[string]struct{}, len(in.strs))
		for _, s := range in.strs {
			in.strSet[s] = struct{}{}
		}
		in.strs = nil
	}
	if len(in.nums) > inSetAt {
		in.numSet = make(map[float64]struct{}, len(in.nums))
		for _, f := range in.nums {
			in.numSet[f] = struct{}{}
		}
		in.nums = nil
	}
	return in, canon, nil
}

// number converts a JSON number operand to float64, rejecting numbers that
// do not fit (1e400) so that no filter ever compares against ±Inf or NaN.
func number(v jsonValue, path, op string) (float64, error) {
	f, err := strconv.ParseFloat(string(v.num), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		if op == "" { // the {"field": value} shorthand
			return 0, errorf(path, "number %s is out of range for float64", v.num)
		}
		return 0, errorf(path, "%s: number %s is out of range for float64", op, v.num)
	}
	return f, nil
}

// splitFieldName splits a field name at dots, refusing names that cannot
// address a field: empty ones, empty segments ("a..b") and segments starting
// with "$" (reserved for operators). A non-empty msg says why a name is
// refused.
func splitFieldName(name string) (segs []string, msg string) {
	if name == "" {
		return nil, "empty field name"
	}
	segs = strings.Split(name, ".")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Sprintf("field name %q has an empty segment", name)
		}
		if strings.HasPrefix(s, "$") {
			return nil, fmt.Sprintf(`field name %q has a segment starting with "$"`, name)
		}
	}
	return segs, ""
}

// pathElem renders a field name as a step of an error path: ".price" for
// plain names, `["odd name"]` for names a reader could misparse.
func pathElem(name string) string {
	for _, r := range name {
		if !(r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "[" + strconv.Quote(name) + "]"
		}
	}
	return "." + name
}
