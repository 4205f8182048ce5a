package top

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The panes' contents, w cells wide and at most h lines.

func (m Model) paneLines(p pane, w, h int) []string {
	if h <= 0 {
		return nil
	}
	var lines []string
	switch p {
	case paneTraffic:
		lines = m.trafficLines(w)
	case paneTenants:
		lines = m.tenantLines(w, h)
	case paneStorage:
		lines = m.storageLines(w, h)
	case paneDLQ:
		lines = m.dlqLines(w, h)
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	return lines
}

func (m Model) unavailable(why string) []string {
	return []string{m.st.dim.Render(why)}
}

func (m Model) trafficLines(w int) []string {
	tr, st := m.snap.Traffic, m.st
	if tr.Unavailable != "" {
		return m.unavailable(tr.Unavailable)
	}
	widths := []int{7, -8, -7, -7, 0}
	// The sparkline takes what the numbers leave, after a blank; it
	// averages groups of columns to fit.
	sparkW := max(0, min(sparkColumns, w-7-8-7-7-4-1))
	widths[4] = sparkW + 1
	group := (sparkColumns + max(1, sparkW) - 1) / max(1, sparkW)
	span := time.Duration(tr.SparkColumnSeconds*float64(min(sparkColumns, group*sparkW))) * time.Second
	lines := []string{st.dim.Render(row([]string{"OP", "REQ/S", "P50", "P99", " req/s, last " + fmtAge(span)}, widths))}
	for _, o := range tr.Ops {
		lines = append(lines, row([]string{o.Op, fmtRate(o.PerSecond), fmtSeconds(o.P50Seconds), fmtSeconds(o.P99Seconds),
			" " + st.title.Render(sparkline(o.Spark, sparkW))}, widths))
	}
	e := tr.Errors
	rated := func(label string, v *float64) string {
		s := label + " " + fmtRate(v)
		if v != nil && *v > 0 {
			return st.warn.Render(s)
		}
		return s
	}
	lines = append(lines,
		st.dim.Render("errors/s")+"  "+strings.Join([]string{rated("4xx", e.Other4xxPerSecond), rated("429", e.RateLimitedPerSecond), rated("503", e.UnavailablePerSecond)}, "  "),
		st.dim.Render("since start")+"  "+fmt.Sprintf("4xx %s  429 %s  503 %s", fmtCount(e.Other4xxTotal), fmtCount(e.RateLimitedTotal), fmtCount(e.UnavailableTotal)))
	if tr.Error != "" {
		lines = append(lines, st.warn.Render(tr.Error))
	}
	return lines
}

// list lays out a header and rows with the cursor's row kept in view
// (h lines in all); the cursor's row is marked when the pane has the
// focus.
func (m Model) list(p pane, header string, rows []string, h int) []string {
	out := []string{m.st.dim.Render("  " + header)}
	visible := max(1, h-1)
	c := m.cursor[p]
	off := max(0, c-visible+1)
	for i := off; i < len(rows) && i < off+visible; i++ {
		if i == c && p == m.focus {
			out = append(out, m.st.selected.Render("› "+rows[i]))
		} else {
			out = append(out, "  "+rows[i])
		}
	}
	return out
}

// bar draws a usage ratio in w cells: a bar and the percentage, or
// "no limit".
func (m Model) bar(v *float64, w int) string {
	if v == nil {
		return m.st.dim.Render("no limit")
	}
	r := *v
	pct := fmt.Sprintf("%3.0f%%", r*100)
	if r > 9.99 {
		pct = ">999%"
	}
	style := m.st.good
	switch {
	case r >= 1:
		style = m.st.bad
	case r >= 0.8:
		style = m.st.warn
	}
	bw := w - len(pct) - 1
	if bw < 3 {
		return style.Render(pct)
	}
	n := max(0, min(bw, int(r*float64(bw)+0.5)))
	return style.Render(strings.Repeat("█", n)) + m.st.dim.Render(strings.Repeat("░", bw-n)) + " " + style.Render(pct)
}

func (m Model) tenantLines(w, h int) []string {
	t := m.snap.Tenants
	if t.Unavailable != "" {
		return m.unavailable(t.Unavailable)
	}
	var lines []string
	if t.Error != "" {
		lines = append(lines, m.st.warn.Render(t.Error))
		h--
	}
	rows := m.tenantRows()
	if len(t.Rows) == 0 {
		return append(lines, m.st.dim.Render("no tenant has made a request since the server started"))
	}
	nameW := max(8, min(16, w/5))
	inner := w - 2
	barW := max(4, (inner-nameW-7-7-4)/3)
	widths := []int{nameW, -7, -7, barW, barW, barW}
	var cells []string
	for _, r := range rows {
		cells = append(cells, row([]string{r.label(), fmtRate(r.AllowedPerSecond), fmtRate(r.LimitedPerSecond),
			m.bar(r.Quota.Vectors, barW), m.bar(r.Quota.StorageBytes, barW), m.bar(r.Quota.Collections, barW)}, widths))
	}
	if len(rows) == 0 {
		cells = []string{m.st.dim.Render("no tenant matches the filter")}
	}
	colls := "COLLECTIONS"
	if barW < len(colls) {
		colls = "COLLS"
	}
	return append(lines, m.list(paneTenants, row([]string{"TENANT", "OK/S", "429/S", "VECTORS", "STORAGE", colls}, widths), cells, h)...)
}

func (m Model) storageLines(w, h int) []string {
	s, st, at := m.snap.Storage, m.st, m.snap.At
	if s.Unavailable != "" {
		return m.unavailable(s.Unavailable)
	}
	label := func(l string) string { return st.dim.Render(fmt.Sprintf("%-8s", l)) }
	var lines []string
	if s.Error != "" {
		lines = append(lines, st.warn.Render(s.Error))
	}
	if len(s.Stores) == 0 {
		lines = append(lines, label("store")+"none: this server ships nothing (start it with --s3-endpoint and --s3-bucket)")
	}
	for _, store := range s.Stores {
		b := store.Breaker
		lines = append(lines, label("store")+store.Name+st.dim.Render(fmt.Sprintf(" · prefix %q", store.Prefix)))
		br := label("breaker") + m.breakerState(b.State) + " since " + clock(b.Since.In(at.Location())) + " (" + fmtAge(at.Sub(b.Since)) + ")"
		if b.OpenUntil != nil && b.State == "open" {
			br += " · next probe " + clock(b.OpenUntil.In(at.Location()))
		}
		window := fmt.Sprintf(" · window %d calls", b.Window.Calls)
		if store.FailureRate != nil {
			window += fmt.Sprintf(", %.0f%% failed", *store.FailureRate*100)
		}
		br += window + fmt.Sprintf(" · opened %d×", b.Opens)
		lines = append(lines, br)
		if b.LastError != "" {
			when := ""
			if b.LastErrorAt != nil {
				when = clock(b.LastErrorAt.In(at.Location())) + " "
			}
			lines = append(lines, label("")+st.warn.Render("last error "+when+oneLine(b.LastError)))
		} else {
			lines = append(lines, label("")+st.dim.Render("no error"))
		}
		lag := dash
		if s.ShipLagSeconds != nil {
			lag = fmtAgeSeconds(*s.ShipLagSeconds)
			if *s.ShipLagSeconds > 60 {
				lag = st.warn.Render(lag)
			}
		}
		lines = append(lines, label("ship")+fmt.Sprintf("%s up/s · %s failed/s · %s refused/s · %s/s · lag %s",
			fmtRate(s.UploadsPerSecond), fmtRate(s.FailuresPerSecond), fmtRate(s.RefusedPerSecond), fmtBytesPtr(s.BytesPerSecond), lag))
	}
	mem := "resident/evicted: " + s.ResidentUnavailable
	if s.ResidentUnavailable == "" {
		mem = fmtCountPtr(s.Resident) + " resident · " + fmtCountPtr(s.Evicted) + " evicted"
	}
	lines = append(lines, label("memory")+mem)
	rows := m.collectionRows()
	if len(s.Collections) == 0 {
		return append(lines, st.dim.Render("no collections"))
	}
	widths := []int{10, 14, 9, 11, -7, -7, -7, 0}
	widths[7] = max(0, w-2-10-14-9-11-7-7-7-7)
	var cells []string
	for _, c := range rows {
		// An unavailable collection's reason is why its requests fail
		// (503 collection_unavailable): it goes before a shipping error.
		lastErr := ""
		switch {
		case c.LoadState == "unavailable" && c.LoadReason != "":
			lastErr = st.warn.Render(oneLine(c.LoadReason))
		case c.LastError != "":
			lastErr = st.warn.Render(oneLine(c.LastError))
		}
		state := c.LoadState
		switch state {
		case "":
			state = dash // a server without cold collections
		case "unavailable":
			state = st.warn.Render(state)
		}
		lag := fmtAgeSeconds(c.ShipLagSeconds)
		if c.Policy == "memory" {
			lag = dash // not shipped
		}
		cells = append(cells, row([]string{c.Tenant, c.Name, c.Policy, state, lag, strconv.Itoa(c.PendingUploads),
			fmt.Sprintf("%d/%d", c.DLQPending, c.DLQPermanent), lastErr}, widths))
	}
	if len(rows) == 0 {
		cells = []string{st.dim.Render("no collection matches the filter")}
	}
	return append(lines, m.list(paneStorage, row([]string{"TENANT", "COLLECTION", "POLICY", "STATE", "LAG", "PENDING", "DLQ", "LAST ERROR"}, widths), cells, h-len(lines))...)
}

// tail cuts s to its last w cells (an object key's end tells most).
func tail(s string, w int) string {
	r := []rune(s)
	if len(r) <= w || w < 2 {
		return s
	}
	return "…" + string(r[len(r)-w+1:])
}

// oneLine keeps an error message on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (m Model) dlqLines(w, h int) []string {
	q, st := m.snap.DLQ, m.st
	if q.Unavailable != "" {
		return m.unavailable(q.Unavailable)
	}
	summary := fmt.Sprintf("%d pending · %d permanent", q.Pending, q.Permanent)
	if q.Truncated {
		summary += fmt.Sprintf(" · the oldest %d shown", len(q.Entries))
	}
	lines := []string{summary}
	if q.Error != "" {
		lines = append(lines, st.warn.Render(q.Error))
	}
	if len(q.Entries) == 0 {
		return append(lines, st.dim.Render("the dead-letter queue is empty"))
	}
	// The object column only where there is room for it.
	fixed := 2 + 5 + 9 + 16 + 15 + 3 + 7 + 7
	widths := []int{-5, 9, 16, 15, -3, -7, max(0, w-fixed)}
	header := []string{"ID", "STATUS", "COLLECTION", "OPERATION", "TRY", "AGE", "LAST ERROR"}
	wide := w >= 110
	if wide {
		obj := (w - fixed) / 2
		widths = []int{-5, 9, 16, 15, obj, -3, -7, w - fixed - obj - 1}
		header = []string{"ID", "STATUS", "COLLECTION", "OPERATION", "OBJECT", "TRY", "AGE", "LAST ERROR"}
	}
	var cells []string
	for _, e := range m.dlqRows() {
		status := e.Status
		if status == "permanent" {
			status = st.bad.Render(status)
		}
		c := []string{strconv.FormatInt(e.ID, 10), status, e.Tenant + "/" + e.Collection, e.Operation + " " + e.Kind}
		if wide {
			c = append(c, tail(e.Object, widths[4]))
		}
		c = append(c, strconv.Itoa(e.Retries), fmtAgeSeconds(e.AgeSeconds), oneLine(e.LastError))
		cells = append(cells, row(c, widths))
	}
	if len(cells) == 0 {
		cells = []string{st.dim.Render("no entry matches the filter")}
	}
	// The selected entry in full, below the list.
	var detail []string
	if e, ok := m.selectedDLQ(); ok {
		obj := st.dim.Render("object ") + e.Object
		if e.Status == "pending" && !e.NextAttempt.IsZero() {
			obj += st.dim.Render(" · next attempt " + clock(e.NextAttempt.In(m.snap.At.Location())))
		}
		detail = []string{obj, st.dim.Render("error  ") + oneLine(e.LastError)}
	}
	lines = append(lines, m.list(paneDLQ, row(header, widths), cells, h-len(lines)-len(detail))...)
	return append(fill(lines, h-len(detail)), detail...)
}
