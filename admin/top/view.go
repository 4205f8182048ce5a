package top

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
)

// Every pane is shown at once (a grid) from gridWidth x gridHeight up;
// below, one pane at a time under a tab bar.
const (
	gridWidth  = 120
	gridHeight = 36
)

// View renders one frame at the terminal's size.
func (m Model) View() string {
	if m.quitting {
		return ""
	}
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		w, h = 80, 24 // before the terminal said its size
	}
	head := m.headerLines(w)
	foot := m.footerLines(w)
	bodyH := max(1, h-len(head)-len(foot))
	var body []string
	switch {
	case m.showHelp:
		body = m.helpLines(w)
	case w >= gridWidth && h >= gridHeight:
		body = m.gridLines(w, bodyH)
	default:
		body = m.tabLines(w, bodyH)
	}
	lines := append(append(head, fill(body, bodyH)...), foot...)
	for i := range lines {
		lines[i] = fit(lines[i], w)
	}
	return strings.Join(lines[:min(len(lines), h)], "\n")
}

// fill makes lines exactly n long.
func fill(lines []string, n int) []string {
	if len(lines) >= n {
		return lines[:n]
	}
	return append(lines, make([]string, n-len(lines))...)
}

// clock writes a time of day.
func clock(t time.Time) string { return t.Format("15:04:05") }

func (m Model) headerLines(w int) []string {
	s, st, h := m.snap, m.st, m.snap.Header
	var state string
	switch {
	case !m.tr.any:
		state = st.dim.Render("connecting")
	case !s.Reachable:
		state = st.bad.Render("✗ unreachable")
	case h.Readiness == "ready":
		state = st.good.Render("● ready")
	default:
		state = st.warn.Render("◐ " + h.Readiness)
	}
	left := []string{st.title.Render("akidb top"), s.Server}
	if h.Version != "" {
		left = append(left, h.Version)
	}
	if h.UptimeSeconds != nil {
		left = append(left, "up "+fmtAgeSeconds(*h.UptimeSeconds))
	}
	left = append(left, state)
	if s.KeySource != "" {
		left = append(left, st.dim.Render("bootstrap key"))
	}
	right := ""
	if !s.At.IsZero() {
		right = clock(s.At)
	}
	if m.paused {
		right = st.warn.Render("PAUSED") + " " + right
	}
	l1 := strings.Join(left, "  ")
	if gap := w - lipgloss.Width(l1) - lipgloss.Width(right); gap >= 2 {
		l1 += strings.Repeat(" ", gap) + right
	}
	label := func(l string) string { return st.dim.Render(fmt.Sprintf("%-5s", l)) }
	l2 := label("mem") + fmt.Sprintf("%s rss · %s heap · %s collections · %s vectors",
		fmtBytesPtr(h.RSSBytes), fmtBytesPtr(h.HeapBytes), fmtCountPtr(h.Collections), fmtCountPtr(h.Vectors))
	ckpt := "none yet"
	if h.LastCheckpoint != nil {
		ckpt = fmtAge(s.At.Sub(*h.LastCheckpoint)) + " ago"
	}
	l3 := label("wal") + fmt.Sprintf("%s · fsync p99 %s · checkpoint %s · index backlog %s",
		fmtBytesPtr(h.WALBytes), fmtSeconds(h.FsyncP99Seconds), ckpt, fmtCountPtr(h.IndexBacklog))
	l4 := label("tier") + m.tierSummary()
	return append([]string{l1, l2, l3, l4}, m.note()...)
}

// tierSummary is the header's one-line storage state: the breaker and
// the DLQ.
func (m Model) tierSummary() string {
	st, sto, q := m.st, m.snap.Storage, m.snap.DLQ
	switch {
	case sto.Unavailable != "":
		return st.dim.Render(dash)
	case len(sto.Stores) == 0:
		return "local only"
	}
	s := sto.Stores[0]
	out := s.Name + " " + m.breakerState(s.Breaker.State) + " since " + clock(s.Breaker.Since.In(m.snap.At.Location()))
	dlq := fmt.Sprintf("DLQ %d pending · %d permanent", q.Pending, q.Permanent)
	if q.Pending+q.Permanent > 0 {
		dlq = st.warn.Render(dlq)
	}
	return out + " · " + dlq
}

func (m Model) breakerState(state string) string {
	switch state {
	case "closed":
		return m.st.good.Render("● closed")
	case "half-open":
		return m.st.warn.Render("◐ half-open")
	case "open":
		return m.st.bad.Render("✗ OPEN")
	}
	return state
}

// note is the header's lines for a server that does not answer: since
// when, the next try, and why.
func (m Model) note() []string {
	s, st := m.snap, m.st
	if !m.tr.any || s.Reachable {
		return nil
	}
	when := "no answer yet"
	if s.LastGood != nil {
		when = fmt.Sprintf("no answer since %s (last good scrape %s ago)", clock(*s.LastGood), fmtAge(s.At.Sub(*s.LastGood)))
	}
	if !m.nextAt.IsZero() {
		when += " · next try " + clock(m.nextAt)
	}
	return []string{st.bad.Render("✗ " + when), st.bad.Render("  " + s.Error)}
}

func (m Model) footerLines(w int) []string {
	var status string
	switch {
	case m.filtering:
		status = m.input.View() + m.st.dim.Render("  (enter keeps, esc clears)")
	case m.confirm != nil:
		status = m.st.warn.Render(m.confirm.prompt) + " " + m.st.key.Render("[y/n]")
	case m.statusBad:
		status = m.st.bad.Render(m.status)
	default:
		status = m.status
	}
	return []string{status, m.help.ShortHelpView(m.keys.ShortHelp())}
}

// title is a pane's name with what needs attention, and its filter.
func (m Model) title(p pane) string {
	t := paneNames[p]
	switch p {
	case paneStorage:
		if s := m.snap.Storage.Stores; len(s) > 0 && s[0].Breaker.State != "closed" {
			t += " !"
		}
	case paneDLQ:
		if n := m.snap.DLQ.Pending + m.snap.DLQ.Permanent; n > 0 {
			t += fmt.Sprintf(" %d", n)
		}
	}
	if f := m.filter[p]; f != "" {
		t += " /" + f
	}
	return t
}

func (m Model) tabLines(w, h int) []string {
	var tabs []string
	for p := range numPanes {
		if p == m.focus {
			tabs = append(tabs, m.st.selected.Render("["+m.title(p)+"]"))
		} else {
			tabs = append(tabs, " "+m.title(p)+" ")
		}
	}
	return append([]string{strings.Join(tabs, m.st.dim.Render("│"))}, m.paneLines(m.focus, w, h-1)...)
}

func (m Model) gridLines(w, h int) []string {
	leftW := w / 2
	h1 := 10 // Traffic has eight lines
	h2 := 2 + 6 + max(1, min(4, len(m.collectionRows())))
	if h-h1-h2 < 5 {
		h2 = max(4, h-h1-5)
	}
	h3 := max(3, h-h1-h2)
	left := m.box(paneTraffic, leftW, h1)
	right := m.box(paneTenants, w-leftW, h1)
	out := make([]string, 0, h)
	for i := range left {
		out = append(out, left[i]+right[i])
	}
	out = append(out, m.box(paneStorage, w, h2)...)
	return append(out, m.box(paneDLQ, w, h3)...)
}

// box draws a pane with its title in the top border; the focused pane's
// border is heavy.
func (m Model) box(p pane, w, h int) []string {
	tl, tr, bl, br, hz, vt := "┌", "┐", "└", "┘", "─", "│"
	title := " " + m.title(p) + " "
	if p == m.focus {
		tl, tr, bl, br, hz, vt = "┏", "┓", "┗", "┛", "━", "┃"
		title = m.st.focus.Render(title)
	}
	style := m.st.dim
	if p == m.focus {
		style = m.st.focus
	}
	top := style.Render(tl+hz) + title
	top += style.Render(strings.Repeat(hz, max(0, w-3-lipgloss.Width(title))) + tr)
	out := []string{fit(top, w)}
	for _, l := range fill(m.paneLines(p, w-2, h-2), h-2) {
		out = append(out, style.Render(vt)+pad(l, w-2, false)+style.Render(vt))
	}
	return append(out, style.Render(bl+strings.Repeat(hz, max(0, w-2))+br))
}

// helpLines is the key table in two columns (one below 80 cells), and
// how the numbers are computed.
func (m Model) helpLines(w int) []string {
	st := m.st
	col := func(bs []key.Binding) []string {
		var out []string
		for _, b := range bs {
			out = append(out, st.key.Render(fmt.Sprintf("%-10s", b.Help().Key))+" "+b.Help().Desc)
		}
		return out
	}
	groups := m.keys.FullHelp()
	left := col(groups[0])
	right := col(append(slices.Clone(groups[1]), groups[2]...))
	lines := []string{st.title.Render("Keys")}
	if w < 80 {
		lines = append(append(lines, left...), right...)
	} else {
		half := w / 2
		for i := range max(len(left), len(right)) {
			var l, r string
			if i < len(left) {
				l = left[i]
			}
			if i < len(right) {
				r = right[i]
			}
			lines = append(lines, pad(l, half, false)+r)
		}
	}
	return append(lines, "",
		fmt.Sprintf("Rates: over the last refresh, made %s after the previous one ended.", m.opts.Interval),
		fmt.Sprintf("p50/p99: over the last %s. Sparklines: one cell per %s (averaged to fit).", quantileWindow, fmtAgeSeconds(m.snap.Traffic.SparkColumnSeconds)),
		"top's own reads (probes, metrics, storage status, DLQ) are not counted.",
		fmt.Sprintf("Heap, quotas, readiness, storage status, DLQ: read every %s (RSS every %s),", fmtAgeSeconds(detailsEvery.Seconds()), fmtAgeSeconds(processEvery.Seconds())),
		"the last three at once when the breaker's state or the DLQ's counts change.",
		"r, R, d and b need an operator's admin key; d and b ask first.",
		"? or esc closes this help.")
}
