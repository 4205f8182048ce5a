package filter

import (
	"strings"
	"testing"
)

// treeMatch evaluates a filter through its exported tree view (Root, Kind,
// Children, Path, Conds) with the rules documented on Cond, reusing the
// oracle's scalar comparisons: a planner built on the view answers what
// Match answers exactly when this does.
func treeMatch(f *Filter, d map[string]any) bool {
	root, ok := f.Root()
	if !ok {
		return true
	}
	return treeNode(root, d)
}

func treeNode(n Node, d map[string]any) bool {
	switch n.Kind() {
	case NodeAll:
		return true
	case NodeAnd:
		for _, k := range n.Children() {
			if !treeNode(k, d) {
				return false
			}
		}
		return true
	case NodeOr:
		for _, k := range n.Children() {
			if treeNode(k, d) {
				return true
			}
		}
		return false
	case NodeNot:
		return !treeNode(n.Children()[0], d)
	}
	val, present := oracleLookup(d, strings.Join(n.Path(), "."))
	for _, c := range n.Conds() {
		if !treeCond(c, val, present) {
			return false
		}
	}
	return true
}

func treeCond(c Cond, val any, present bool) bool {
	if c.Op == OpExists {
		return present == c.Exists
	}
	var operands []any
	for _, s := range c.Strings {
		operands = append(operands, s)
	}
	for _, f := range c.Numbers {
		operands = append(operands, f)
	}
	for _, b := range c.Bools {
		operands = append(operands, b)
	}
	op := map[Op]string{OpEq: "$eq", OpIn: "$eq", OpGT: "$gt", OpGTE: "$gte", OpLT: "$lt", OpLTE: "$lte"}[c.Op]
	hit := false
	for _, a := range operands {
		if oracleOp(op, a, val, present) {
			hit = true
		}
	}
	return hit != c.Negated
}

func TestTreeView(t *testing.T) {
	f := mustParse(t, `{"a":{"$in":["x",2,true,"x"],"$lt":3},"$or":[{"b.c":{"$ne":"q"}},{"$not":{"d":{"$exists":false}}}],"e":{"$nin":[1,2,3,4,5,6,7,8,9,10]}}`)
	root, ok := f.Root()
	if !ok || root.Kind() != NodeAnd || len(root.Children()) != 3 {
		t.Fatalf("root %v %v", root.Kind(), ok)
	}
	var a, or, e Node
	for _, k := range root.Children() {
		switch {
		case k.Field() == "a":
			a = k
		case k.Field() == "e":
			e = k
		case k.Kind() == NodeOr:
			or = k
		}
	}
	conds := a.Conds()
	if len(conds) != 2 {
		t.Fatalf("a has %d conds", len(conds))
	}
	for _, c := range conds {
		switch c.Op {
		case OpIn:
			if len(c.Strings) != 1 || c.Strings[0] != "x" || len(c.Numbers) != 1 || c.Numbers[0] != 2 || len(c.Bools) != 1 || !c.Bools[0] || c.Negated {
				t.Errorf("$in cond %+v", c)
			}
		case OpLT:
			if len(c.Numbers) != 1 || c.Numbers[0] != 3 {
				t.Errorf("$lt cond %+v", c)
			}
		default:
			t.Errorf("unexpected cond %+v", c)
		}
	}
	if c := e.Conds(); len(c) != 1 || c[0].Op != OpIn || !c[0].Negated || len(c[0].Numbers) != 10 || c[0].Numbers[0] != 1 || c[0].Numbers[9] != 10 {
		t.Errorf("e conds %+v (a hashed $nin list is returned sorted)", c)
	}
	kids := or.Children()
	if len(kids) != 2 || kids[0].Path()[1] != "c" || kids[1].Kind() != NodeNot || kids[1].Children()[0].Field() != "d" {
		t.Errorf("$or children wrong")
	}
	if got := kids[0].String(); got != `{"b.c":{"$ne":"q"}}` {
		t.Errorf("String = %s", got)
	}
	if _, ok := mustParse(t, `{}`).Root(); ok {
		t.Error("the empty filter has no tree")
	}
	if k := mustParse(t, `{"$or":[{},{"a":1}]}`); true {
		r, _ := k.Root()
		if r.Children()[0].Kind() != NodeAll {
			t.Error("{} inside $or must be an All node")
		}
	}
	// String of every node re-parses into a filter that matches the same.
	docs := []map[string]any{doc(t, `{"a":2,"b":{"c":"q"},"e":11}`), doc(t, `{"a":["x"],"d":null,"e":[3]}`), {}}
	var walk func(n Node)
	walk = func(n Node) {
		back := mustParse(t, n.String())
		for _, d := range docs {
			if treeNode(n, d) != back.Match(d) {
				t.Errorf("node %s disagrees with its String on %v", n, d)
			}
		}
		for _, k := range n.Children() {
			walk(k)
		}
	}
	walk(root)
}
