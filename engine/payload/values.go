package payload

import (
	"math"

	"github.com/akidb/akidb/engine/filter"
)

// maxExactInt is the largest magnitude below which every whole float64 is
// an exact integer; an integer index holds only those.
const maxExactInt = 1 << 53

// fieldValues is what one record's field holds, as one index sees it.
type fieldValues struct {
	present bool
	// other: some element is a scalar outside the index's type, which some
	// condition could match (null, objects and nested arrays never match
	// any condition, so they are not "other").
	other bool
	strs  []string // keyword: string values (aliasing the doc)
	bools uint8    // keyword: bit 0 false, bit 1 true
	nums  []float64
}

func (v *fieldValues) reset() {
	*v = fieldValues{strs: v.strs[:0], nums: v.nums[:0]}
}

// extract reads the field at path from doc (a JSON object, or empty for no
// metadata) into v, as an index of type t sees it. Strings alias doc.
func extract(t Type, path []string, doc []byte, v *fieldValues) {
	v.reset()
	raw, ok := filter.LookupJSON(doc, path)
	if !ok {
		return
	}
	v.present = true
	if len(raw) > 0 && raw[0] == '[' {
		filter.EachElementJSON(raw, func(e []byte) bool {
			v.scalar(t, e)
			return true
		})
		return
	}
	v.scalar(t, raw)
}

func (v *fieldValues) scalar(t Type, e []byte) {
	if len(e) == 0 {
		return
	}
	switch e[0] {
	case 'n', '{', '[':
		return // matches no condition
	case '"':
		s, ok := filter.StringJSON(e)
		if ok && t == Keyword {
			v.strs = append(v.strs, s)
		} else {
			v.other = true
		}
	case 't', 'f':
		if t == Keyword {
			if e[0] == 't' {
				v.bools |= 2
			} else {
				v.bools |= 1
			}
		} else {
			v.other = true
		}
	default:
		f, ok := filter.NumberJSON(e)
		switch {
		case !ok:
		case t == Float || t == Integer && f == math.Trunc(f) && math.Abs(f) <= maxExactInt:
			v.nums = append(v.nums, f)
		default:
			v.other = true
		}
	}
}
