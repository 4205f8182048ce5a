package loadtest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Op is one kind of request the workload sends.
type Op string

// The operations a mix can name. Each is one HTTP request.
const (
	// OpQuery is POST /collections/{c}/query: k nearest neighbours of a
	// fresh query vector, with a metadata filter when FilterSelectivity > 0.
	OpQuery Op = "query"
	// OpInsert is POST /collections/{c}/insert of InsertBatch records with
	// ids never used before, so every insert is a real write.
	OpInsert Op = "insert"
	// OpGet is GET /collections/{c}/vectors/{id} of a preloaded record that
	// no delete of this run can have removed.
	OpGet Op = "get"
	// OpList is GET /collections/{c}/vectors?limit=100: the first scroll page.
	OpList Op = "list"
	// OpDelete is DELETE /collections/{c}/vectors/{id} of a preloaded record,
	// each id deleted once.
	OpDelete Op = "delete"
	// OpCreateDrop is collection churn: it alternately creates a small
	// collection and drops the one created churnLag creates earlier, one
	// request per draw.
	OpCreateDrop Op = "create-drop"
)

// AllOps lists the operations in their canonical order.
var AllOps = []Op{OpQuery, OpInsert, OpGet, OpList, OpDelete, OpCreateDrop}

func knownOp(s string) (Op, bool) {
	for _, op := range AllOps {
		if string(op) == s {
			return op, true
		}
	}
	return "", false
}

// MixEntry is one operation and its relative weight.
type MixEntry struct {
	Op     Op
	Weight float64
}

// Mix is the share of each operation in the load, in the order given.
// Weights are relative: query=7,insert=3 is the same as query=70,insert=30.
type Mix []MixEntry

// DefaultMix is the read-heavy mix `akidb loadtest` uses unless told otherwise.
const DefaultMix = "query=70,insert=20,get=5,list=5"

// ParseMix parses "op=weight,op=weight,...". Weights are non-negative
// numbers and at least one must be positive; an operation may appear once.
func ParseMix(s string) (Mix, error) {
	var m Mix
	seen := map[Op]bool{}
	var total float64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want op=weight", part)
		}
		name = strings.TrimSpace(name)
		op, ok := knownOp(name)
		if !ok {
			return nil, fmt.Errorf("unknown operation %q (want one of %s)", name, opNames())
		}
		if seen[op] {
			return nil, fmt.Errorf("operation %q given twice", name)
		}
		seen[op] = true
		w, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || w < 0 || math.IsInf(w, 0) || math.IsNaN(w) {
			return nil, fmt.Errorf("%s: weight %q is not a non-negative number", name, strings.TrimSpace(val))
		}
		total += w
		m = append(m, MixEntry{Op: op, Weight: w})
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("no operations in %q (example: %s)", s, DefaultMix)
	}
	if total <= 0 {
		return nil, fmt.Errorf("all weights are zero in %q", s)
	}
	return m, nil
}

func opNames() string {
	names := make([]string, len(AllOps))
	for i, op := range AllOps {
		names[i] = string(op)
	}
	return strings.Join(names, ", ")
}

// Share is the fraction (0..1) of draws that pick op.
func (m Mix) Share(op Op) float64 {
	var total, w float64
	for _, e := range m {
		total += e.Weight
		if e.Op == op {
			w += e.Weight
		}
	}
	if total == 0 {
		return 0
	}
	return w / total
}

// String is the mix in the flag's syntax.
func (m Mix) String() string {
	parts := make([]string, 0, len(m))
	for _, e := range m {
		parts = append(parts, string(e.Op)+"="+strconv.FormatFloat(e.Weight, 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}
