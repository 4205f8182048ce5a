package payload

import "fmt"

// Type is the kind of values an index holds.
type Type uint8

const (
	Keyword Type = 1
	Integer Type = 2
	Float   Type = 3
)

// ParseType reads "keyword", "integer" or "float".
func ParseType(s string) (Type, error) {
	switch s {
	case "keyword":
		return Keyword, nil
	case "integer":
		return Integer, nil
	case "float":
		return Float, nil
	}
	return 0, fmt.Errorf("index type %q is not one of keyword, integer, float", s)
}

func (t Type) String() string {
	switch t {
	case Keyword:
		return "keyword"
	case Integer:
		return "integer"
	case Float:
		return "float"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t is a known type.
func (t Type) Valid() bool { return t >= Keyword && t <= Float }

// State is where an index is in its life.
type State uint8

const (
	// Building: declared, kept up to date with new writes, and being filled
	// with the records that existed before; not used by the planner.
	Building State = 1
	// Ready: complete; the planner uses it.
	Ready State = 2
)

func (s State) String() string {
	switch s {
	case Building:
		return "building"
	case Ready:
		return "ready"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Info describes one index.
type Info struct {
	Field string
	Type  Type
	State State
	// Values is the number of distinct indexed values (a boolean counts as
	// a value of a keyword index).
	Values int
	// Records is the number of records whose field is present.
	Records int
	// Unindexed is the number of records whose field holds a value outside
	// the index's type (their conditions are checked by reading the
	// record).
	Unindexed int
	// MemoryBytes is what the bitmaps and the value tree take.
	MemoryBytes int64
}

// MaxFieldBytes bounds an indexed field name.
const MaxFieldBytes = 256

// MaxIndexes bounds the number of indexes on one collection: every write
// updates each of them.
const MaxIndexes = 64
