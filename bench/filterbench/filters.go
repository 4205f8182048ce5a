package filterbench

import (
	"fmt"
	"strconv"
)

// Filter is one filter of the benchmark with the selectivity it aims at.
type Filter struct {
	// Target is the selectivity aimed at (0.01 = 1%); Field says which
	// field it uses ("r", or "digit" for those using the label).
	Target float64
	Field  string
	JSON   string
	match  func(Record) bool
}

// filtersFor returns, for each target selectivity, a filter on r and one
// using digit. digit is the label a digit filter keeps.
func filtersFor(targets []float64, digit int) []Filter {
	d := strconv.Itoa(digit)
	var out []Filter
	for _, t := range targets {
		limit := int(t*1000 + 0.5)
		out = append(out, Filter{Target: t, Field: "r",
			JSON:  fmt.Sprintf(`{"r":{"$lt":%d}}`, limit),
			match: func(m Record) bool { return m.R < limit }})
		out = append(out, digitFilter(t, d))
	}
	return out
}

// digitFilter keeps about t of MNIST (each digit is about 10% of it).
func digitFilter(t float64, d string) Filter {
	f := Filter{Target: t, Field: "digit"}
	switch {
	case t >= 0.85:
		f.JSON = fmt.Sprintf(`{"digit":{"$ne":%q}}`, d)
		f.match = func(m Record) bool { return m.Digit != d }
	case t >= 0.1:
		n := int(t*10 + 0.5) // digits to keep
		var in []string
		keep := map[string]bool{}
		for i := 0; i < n; i++ {
			s := strconv.Itoa((int(d[0]-'0') + i) % 10)
			in = append(in, strconv.Quote(s))
			keep[s] = true
		}
		if n == 1 {
			f.JSON = fmt.Sprintf(`{"digit":%s}`, in[0])
		} else {
			f.JSON = `{"digit":{"$in":[` + join(in) + `]}}`
		}
		f.match = func(m Record) bool { return keep[m.Digit] }
	default:
		// One digit (10%) and a range of r: t/0.1 of it.
		limit := int(t*10000 + 0.5)
		f.JSON = fmt.Sprintf(`{"digit":%q,"r":{"$lt":%d}}`, d, limit)
		f.match = func(m Record) bool { return m.Digit == d && m.R < limit }
	}
	return f
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
