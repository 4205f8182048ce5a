package migrate

import (
	"bytes"
	"fmt"
	"sort"
)

// Kind classifies a problem found in the v1 data, for reports and for
// scripts that branch on it.
type Kind string

// The kinds of problem the planner reports. Each names what is wrong, not
// where: the position is the Problem's File and Line.
const (
	KindMalformedJSON       Kind = "malformed_json"
	KindInvalidUTF8         Kind = "invalid_utf8"
	KindInvalidRecord       Kind = "invalid_record"
	KindWrongDimension      Kind = "wrong_dimension"
	KindNotFinite           Kind = "not_finite"
	KindZeroVector          Kind = "zero_vector"
	KindInvalidID           Kind = "invalid_id"
	KindIDTooLong           Kind = "id_too_long"
	KindInvalidMetadata     Kind = "invalid_metadata"
	KindMetadataTooLarge    Kind = "metadata_too_large"
	KindInvalidManifest     Kind = "invalid_manifest"
	KindDimensionTooLarge   Kind = "dimension_too_large"
	KindDuplicateCollection Kind = "duplicate_collection"
	KindUnknownTenant       Kind = "unknown_tenant"
	KindInvalidTenant       Kind = "invalid_tenant"
	KindDuplicateTenant     Kind = "duplicate_tenant"
	KindInvalidQuota        Kind = "invalid_quota"
)

// Scope says what --on-invalid=skip leaves out because of a problem.
type Scope string

const (
	// ScopeRecord: the line is ignored, as if it were not in the file (an
	// earlier valid line for the same id stays).
	ScopeRecord Scope = "record"
	// ScopeCollection: the whole collection is left out.
	ScopeCollection Scope = "collection"
	// ScopeTenant: the tenant and all its collections are left out.
	ScopeTenant Scope = "tenant"
	// ScopeField: one value is not migrated (a quota, a timestamp); the
	// tenant is.
	ScopeField Scope = "field"
)

// Problem is one thing wrong in the v1 data, at FILE:LINE (Line 0: the
// file as a whole).
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Kind    Kind   `json:"kind"`
	Scope   Scope  `json:"scope"`
	Message string `json:"message"`
}

// Pos is FILE:LINE, or FILE when the problem is the file's as a whole.
func (p Problem) Pos() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return p.File
}

// String is the compiler-style "FILE:LINE: message".
func (p Problem) String() string { return p.Pos() + ": " + p.Message }

// MaxListedProblems is how many problems a report lists one by one; the
// counts (total and per kind) are always exact.
const MaxListedProblems = 1000

// Problems collects problems: the first MaxListedProblems in full, and
// exact counts.
type Problems struct {
	List   []Problem    `json:"list"`
	Count  int          `json:"count"`
	ByKind map[Kind]int `json:"by_kind"`
}

func (ps *Problems) add(p Problem) {
	if ps.ByKind == nil {
		ps.ByKind = map[Kind]int{}
	}
	ps.Count++
	ps.ByKind[p.Kind]++
	if len(ps.List) < MaxListedProblems {
		ps.List = append(ps.List, p)
	}
}

// sort orders the listed problems by file, then line, so a report reads
// like a compiler's output whatever order the files were scanned in.
func (ps *Problems) sort() {
	sort.SliceStable(ps.List, func(i, j int) bool {
		if ps.List[i].File != ps.List[j].File {
			return ps.List[i].File < ps.List[j].File
		}
		return ps.List[i].Line < ps.List[j].Line
	})
}

// lineOf returns the 1-based line of byte offset off in data.
func lineOf(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

// lineOfKey returns the line of the first `"key"` in a JSON document (1
// when it is not there): good enough to point an editor at a field.
func lineOfKey(data []byte, key string) int {
	i := bytes.Index(data, []byte(`"`+key+`"`))
	if i < 0 {
		return 1
	}
	return lineOf(data, int64(i))
}
