package filter

import (
	"slices"
	"strings"
)

// A read-only view of a compiled filter for query planners (the engine's
// payload indexes turn field conditions into bitmaps). It exposes the tree
// exactly as Match evaluates it: Match(meta) is the value of Root under the
// rules below, so a planner that follows them answers what Match answers.
//
//   - And: every child holds. Or: some child holds. Not: the child does not.
//   - All: always holds (the empty filter {} inside a larger one).
//   - Field: every one of Conds holds on the field's value (see Cond).

// NodeKind says what a Node is.
type NodeKind uint8

const (
	NodeAll NodeKind = iota
	NodeAnd
	NodeOr
	NodeNot
	NodeField
)

// Node is one node of a compiled filter.
type Node struct{ m matcher }

// Root returns the filter's top node; ok is false for a filter that
// matches everything (nil, {} or null), which has no tree.
func (f *Filter) Root() (n Node, ok bool) {
	if f == nil || f.root == nil {
		return Node{}, false
	}
	return Node{f.root}, true
}

// Kind says what the node is.
func (n Node) Kind() NodeKind {
	switch n.m.(type) {
	case andMatcher:
		return NodeAnd
	case orMatcher:
		return NodeOr
	case notMatcher:
		return NodeNot
	case *fieldMatcher:
		return NodeField
	}
	return NodeAll
}

// Children returns the operands of an And, Or or Not node (one for Not).
func (n Node) Children() []Node {
	var kids []matcher
	switch m := n.m.(type) {
	case andMatcher:
		kids = m
	case orMatcher:
		kids = m
	case notMatcher:
		kids = []matcher{m.m}
	}
	out := make([]Node, len(kids))
	for i, k := range kids {
		out[i] = Node{k}
	}
	return out
}

// Field returns a Field node's field name as written in the filter (dots
// separate the steps of a nested path), and "" for other nodes.
func (n Node) Field() string {
	if m, ok := n.m.(*fieldMatcher); ok {
		return strings.Join(m.path, ".")
	}
	return ""
}

// Path returns a Field node's field name split at dots.
func (n Node) Path() []string {
	if m, ok := n.m.(*fieldMatcher); ok {
		return slices.Clone(m.path)
	}
	return nil
}

// Op is a field operator in its positive form.
type Op uint8

const (
	OpExists Op = iota // $exists
	OpEq               // $eq and, negated, $ne
	OpIn               // $in and, negated, $nin
	OpGT
	OpGTE
	OpLT
	OpLTE
)

// Cond is one operator applied to a field.
//
// For OpExists it holds when the field's presence equals Exists. Every
// other Cond is a positive condition P, negated when Negated: P holds on a
// present field when its value, or, if the value is an array, any element of
// it, is a scalar that satisfies the operator against one of the operands
// (values of another type, null, objects and nested arrays never do); P
// never holds on a missing field, so a negated Cond always does. Numbers
// compare as float64, strings byte-wise, booleans only for equality.
//
// Operands: OpEq has exactly one operand in Strings, Numbers or Bools; OpIn
// any number spread over the three; a range operator one in Strings or
// Numbers.
type Cond struct {
	Op      Op
	Negated bool
	Exists  bool
	Strings []string
	Numbers []float64
	Bools   []bool
}

// Conds returns the conditions of a Field node, all of which must hold.
func (n Node) Conds() []Cond {
	m, ok := n.m.(*fieldMatcher)
	if !ok {
		return nil
	}
	out := make([]Cond, 0, len(m.ops))
	for _, op := range m.ops {
		if op.exists {
			out = append(out, Cond{Op: OpExists, Exists: op.want})
			continue
		}
		c := Cond{Negated: op.negate}
		switch x := op.c.(type) {
		case *eqCond:
			c.Op = OpEq
			switch x.kind {
			case kindString:
				c.Strings = []string{x.s}
			case kindNumber:
				c.Numbers = []float64{x.f}
			default:
				c.Bools = []bool{x.b}
			}
		case *inCond:
			c.Op = OpIn
			c.Strings = slices.Clone(x.strs)
			for s := range x.strSet {
				c.Strings = append(c.Strings, s)
			}
			c.Numbers = slices.Clone(x.nums)
			for f := range x.numSet {
				c.Numbers = append(c.Numbers, f)
			}
			slices.Sort(c.Strings)
			slices.Sort(c.Numbers)
			c.Strings = slices.Compact(c.Strings)
			c.Numbers = slices.Compact(c.Numbers)
			if x.hasFalse {
				c.Bools = append(c.Bools, false)
			}
			if x.hasTrue {
				c.Bools = append(c.Bools, true)
			}
		case *rangeCond:
			c.Op = [...]Op{opGT: OpGT, opGTE: OpGTE, opLT: OpLT, opLTE: OpLTE}[x.op]
			if x.isStr {
				c.Strings = []string{x.s}
			} else {
				c.Numbers = []float64{x.f}
			}
		}
		out = append(out, c)
	}
	return out
}

// String returns the node as a filter of its own in JSON, for plans shown
// to users: conditions as in the canonical form, with implicit ANDs spelled
// out as $and.
func (n Node) String() string {
	if n.m == nil {
		return matchAllJSON
	}
	text, err := encodeCanonical(treeOf(n.m))
	if err != nil {
		return matchAllJSON // cannot happen: the tree holds only JSON types
	}
	return text
}

// treeOf rebuilds a JSON tree (maps, slices, scalars) from a compiled node.
func treeOf(m matcher) any {
	sub := func(ms []matcher) []any {
		out := make([]any, len(ms))
		for i, k := range ms {
			out[i] = treeOf(k)
		}
		return out
	}
	switch x := m.(type) {
	case andMatcher:
		return map[string]any{"$and": sub(x)}
	case orMatcher:
		return map[string]any{"$or": sub(x)}
	case notMatcher:
		return map[string]any{"$not": treeOf(x.m)}
	case *fieldMatcher:
		ops := map[string]any{}
		for _, c := range (Node{x}).Conds() {
			var name string
			var operand any
			switch c.Op {
			case OpExists:
				name, operand = "$exists", c.Exists
			case OpIn:
				name = "$in"
				if c.Negated {
					name = "$nin"
				}
				list := []any{}
				for _, s := range c.Strings {
					list = append(list, s)
				}
				for _, f := range c.Numbers {
					list = append(list, f)
				}
				for _, b := range c.Bools {
					list = append(list, b)
				}
				operand = list
			default:
				name = map[Op]string{OpEq: "$eq", OpGT: "$gt", OpGTE: "$gte", OpLT: "$lt", OpLTE: "$lte"}[c.Op]
				if c.Negated {
					name = "$ne"
				}
				switch {
				case len(c.Strings) > 0:
					operand = c.Strings[0]
				case len(c.Numbers) > 0:
					operand = c.Numbers[0]
				default:
					operand = c.Bools[0]
				}
			}
			ops[name] = operand
		}
		return map[string]any{strings.Join(x.path, "."): ops}
	}
	return map[string]any{}
}
