package top

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// dash stands for a number that is not known.
const dash = "-"

// fmtRate writes a per-second rate.
func fmtRate(v *float64) string {
	if v == nil {
		return dash
	}
	switch r := *v; {
	case r >= 10000:
		return fmtSI(r)
	case r >= 100:
		return strconv.FormatFloat(r, 'f', 0, 64)
	default:
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
}

// fmtSI writes a large number with k/M/G.
func fmtSI(v float64) string {
	for _, u := range []struct {
		div  float64
		unit string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if math.Abs(v) >= u.div {
			return strconv.FormatFloat(v/u.div, 'f', 1, 64) + u.unit
		}
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// fmtCount writes a count with thousands separators.
func fmtCount(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtCountPtr(v *float64) string {
	if v == nil {
		return dash
	}
	return fmtCount(*v)
}

// fmtSeconds writes a latency: µs, ms or s with two or three figures.
func fmtSeconds(v *float64) string {
	if v == nil {
		return dash
	}
	s := *v
	switch {
	case s < 1e-3:
		return strconv.FormatFloat(s*1e6, 'f', 0, 64) + "µs"
	case s < 10e-3:
		return strconv.FormatFloat(s*1e3, 'f', 1, 64) + "ms"
	case s < 1:
		return strconv.FormatFloat(s*1e3, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(s, 'f', 2, 64) + "s"
}

// fmtBytes writes a size in binary units.
func fmtBytes(v float64) string {
	const unit = 1024
	if v < unit {
		return strconv.FormatFloat(v, 'f', 0, 64) + " B"
	}
	exp, div := 0, float64(unit)
	for n := v / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(v/div, 'f', 1, 64) + " " + string("KMGTP"[exp]) + "iB"
}

func fmtBytesPtr(v *float64) string {
	if v == nil {
		return dash
	}
	return fmtBytes(*v)
}

// fmtAge writes a duration the way top does: 42s, 3m04s, 2h05m, 3d04h.
func fmtAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case d == 0:
		return "0s"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600 && s%60 == 0:
		return fmt.Sprintf("%dm", s/60)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

func fmtAgeSeconds(v float64) string { return fmtAge(time.Duration(v * float64(time.Second))) }

// fit cuts a (styled) line to w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if lipgloss.Width(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// pad cuts or fills a (styled) string to exactly w cells, left-aligned
// or right-aligned.
func pad(s string, w int, right bool) string {
	s = fit(s, w)
	fill := strings.Repeat(" ", max(0, w-lipgloss.Width(s)))
	if right {
		return fill + s
	}
	return s + fill
}

// row joins cells of the given widths (a negative width is right-aligned)
// with one space between.
func row(cells []string, widths []int) string {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteByte(' ')
		}
		w := widths[i]
		b.WriteString(pad(c, max(w, -w), w < 0))
	}
	return strings.TrimRight(b.String(), " ")
}

// sparkRunes are the sparkline's levels, lowest first.
var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// sparkline draws values (oldest first) in w cells: adjacent values are
// averaged when there are more than cells, and the newest w are shown
// when fewer; a blank is a span with no data.
func sparkline(values []*float64, w int) string {
	if w <= 0 || len(values) == 0 {
		return ""
	}
	group := max(1, (len(values)+w-1)/w)
	var cols []*float64
	for end := len(values); end > 0 && len(cols) < w; end -= group {
		sum, n := 0.0, 0
		for _, v := range values[max(0, end-group):end] {
			if v != nil {
				sum += *v
				n++
			}
		}
		if n == 0 {
			cols = append(cols, nil)
		} else {
			cols = append(cols, ptr(sum/float64(n)))
		}
	}
	top := 0.0
	for _, v := range cols {
		if v != nil {
			top = max(top, *v)
		}
	}
	var b strings.Builder
	for i := len(cols) - 1; i >= 0; i-- {
		v := cols[i]
		switch {
		case v == nil:
			b.WriteByte(' ')
		case top == 0:
			b.WriteRune(sparkRunes[0])
		default:
			b.WriteRune(sparkRunes[min(len(sparkRunes)-1, int(*v/top*float64(len(sparkRunes)-1)+0.5))])
		}
	}
	return b.String()
}
