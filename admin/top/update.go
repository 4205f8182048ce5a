package top

import (
	"context"
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/akidb/akidb/serve/access"
)

// Messages the model's commands send back.
type (
	// scrapedMsg is a finished refresh.
	scrapedMsg struct{ s Sample }
	// tickMsg starts the refresh scheduled as number gen.
	tickMsg struct{ gen int }
	// actionMsg is an action's result for the status line.
	actionMsg struct {
		text string
		err  error
	}
)

// Init starts the first refresh.
func (m Model) Init() tea.Cmd {
	return m.scrapeCmd(true)
}

// scrapeCmd runs one refresh, bounded by the timeout; all asks for every
// detail now (after an action).
func (m Model) scrapeCmd(all bool) tea.Cmd {
	sc, ctx, timeout := m.scraper, m.ctx, m.opts.Timeout
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if all {
			return scrapedMsg{sc.ScrapeAll(c)}
		}
		return scrapedMsg{sc.Scrape(c)}
	}
}

// refreshNow starts a refresh, or queues one behind the refresh under
// way: refreshes never overlap.
func (m *Model) refreshNow(all bool) tea.Cmd {
	if m.scraping {
		m.queued = true
		m.queuedAll = m.queuedAll || all
		return nil
	}
	m.scraping = true
	m.gen++ // a scheduled tick is now stale
	m.nextAt = time.Time{}
	return m.scrapeCmd(all)
}

// delay is the pause before the next refresh: the interval, doubled for
// each failure in a row up to maxBackoff.
func (m Model) delay() time.Duration {
	d := m.opts.Interval
	for i := 0; i < m.failures && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, max(maxBackoff, m.opts.Interval))
}

// Update handles a message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		return m, nil
	case scrapedMsg:
		return m.scraped(msg.s)
	case tickMsg:
		if msg.gen != m.gen || m.paused || m.scraping {
			return m, nil
		}
		return m, m.refreshNow(false)
	case actionMsg:
		if msg.err != nil {
			m.setStatus(msg.text+": "+describe(msg.err), true)
		} else {
			m.setStatus(msg.text, false)
		}
		return m, m.refreshNow(true)
	case tea.KeyMsg:
		return m.key(msg)
	}
	if m.filtering {
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m *Model) setStatus(s string, bad bool) { m.status, m.statusBad = s, bad }

func (m Model) scraped(s Sample) (tea.Model, tea.Cmd) {
	m.scraping = false
	m.tr.fold(s)
	m.snap = m.tr.snapshot()
	if s.Err != nil {
		m.failures++
	} else {
		m.failures = 0
	}
	m.clampCursors()
	switch {
	case m.quitting:
		return m, nil
	case m.queued:
		all := m.queuedAll
		m.queued, m.queuedAll = false, false
		return m, m.refreshNow(all)
	case m.paused:
		return m, nil
	}
	d := m.delay()
	m.gen++
	gen := m.gen
	m.nextAt = m.opts.Now().Add(d)
	return m, tea.Tick(d, func(time.Time) tea.Msg { return tickMsg{gen} })
}

func (m Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if msg.String() == "ctrl+c" {
		m.quitting = true
		return m, tea.Quit
	}
	switch {
	case m.filtering:
		return m.filterKey(msg)
	case m.confirm != nil:
		c := m.confirm
		m.confirm = nil
		if key.Matches(msg, m.keys.Yes) {
			m.setStatus(c.what+" …", false)
			return m, c.run
		}
		m.setStatus("cancelled", false)
		return m, nil
	case m.showHelp && (key.Matches(msg, m.keys.Help) || msg.String() == "esc"):
		m.showHelp = false
		return m, nil
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		m.quitting = true
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.showHelp = true
	case key.Matches(msg, k.Next):
		m.focus = (m.focus + 1) % numPanes
	case key.Matches(msg, k.Prev):
		m.focus = (m.focus + numPanes - 1) % numPanes
	case key.Matches(msg, k.Up):
		m.move(-1)
	case key.Matches(msg, k.Down):
		m.move(1)
	case key.Matches(msg, k.PageUp):
		m.move(-m.page())
	case key.Matches(msg, k.PageDown):
		m.move(m.page())
	case key.Matches(msg, k.Top):
		m.move(-1 << 30)
	case key.Matches(msg, k.Bottom):
		m.move(1 << 30)
	case key.Matches(msg, k.Filter):
		if m.focus == paneTraffic {
			m.setStatus("nothing to filter in Traffic: tab to Tenants, Storage or DLQ", true)
			break
		}
		m.filtering = true
		m.input.SetValue(m.filter[m.focus])
		m.input.CursorEnd()
		return m, m.input.Focus()
	case key.Matches(msg, k.Pause):
		m.paused = !m.paused
		if m.paused {
			m.gen++ // drop the scheduled refresh
			m.nextAt = time.Time{}
			m.setStatus("refresh paused: p resumes", false)
			return m, nil
		}
		m.setStatus("refresh resumed", false)
		return m, m.refreshNow(true)
	case key.Matches(msg, k.RetryAll):
		m.setStatus("retrying the DLQ …", false)
		return m, m.action("retry DLQ", func(ctx context.Context) (string, error) {
			res, err := retryWhole(ctx, m.opts.Client)
			return retried(res), err
		})
	case key.Matches(msg, k.RetryOne):
		e, ok := m.selectedDLQ()
		if !ok {
			m.setStatus("select a DLQ entry first (tab to the DLQ pane)", true)
			break
		}
		m.setStatus(fmt.Sprintf("retrying DLQ entry %d …", e.ID), false)
		what := fmt.Sprintf("retry DLQ entry %d", e.ID)
		return m, m.action(what, func(ctx context.Context) (string, error) {
			res, err := m.opts.Client.RetryDLQEntry(ctx, e.ID)
			return retried(res), err
		})
	case key.Matches(msg, k.Discard):
		e, ok := m.selectedDLQ()
		if !ok {
			m.setStatus("select a DLQ entry first (tab to the DLQ pane)", true)
			break
		}
		what := fmt.Sprintf("discard DLQ entry %d", e.ID)
		m.confirm = &confirmation{what: what,
			prompt: fmt.Sprintf("%s, a %s %s %s of %s/%s?", what, e.Status, e.Kind, e.Operation, e.Tenant, e.Collection),
			run: m.action(what, func(ctx context.Context) (string, error) {
				res, err := m.opts.Client.DiscardDLQEntry(ctx, e.ID)
				return fmt.Sprintf("discarded DLQ entry %d", res.ID), err
			}),
		}
	case key.Matches(msg, k.ResetBreaker):
		st := m.snap.Storage
		if len(st.Stores) == 0 {
			why := "this server has no object store"
			if st.Unavailable != "" {
				why = "storage: " + st.Unavailable
			}
			m.setStatus("no circuit breaker to reset: "+why, true)
			break
		}
		s := st.Stores[0]
		m.confirm = &confirmation{what: "reset the circuit breaker",
			prompt: fmt.Sprintf("reset the circuit breaker of %s (now %s)? calls resume at once", s.Name, s.Breaker.State),
			run: m.action("reset the circuit breaker", func(ctx context.Context) (string, error) {
				res, err := m.opts.Client.ResetBreaker(ctx)
				return "circuit breaker reset: " + res.CircuitBreaker.State, err
			}),
		}
	}
	return m, nil
}

// maxRetryCalls bounds the retry calls of one r (the server retries a
// batch, --dlq-batch, per call).
const maxRetryCalls = 1000

// retryWhole retries the whole pending DLQ: one batch per call, while
// every entry of the last batch went through. It stops at the first
// failure or deferral (the store is still failing: retrying on would only
// spend the entries' retries) and when a batch is empty.
func retryWhole(ctx context.Context, c Client) (access.DLQRetried, error) {
	var total access.DLQRetried
	for range maxRetryCalls {
		res, err := c.RetryDLQ(ctx)
		if err != nil {
			return total, err
		}
		r, t := res.RetryResult, &total.RetryResult
		t.Attempted += r.Attempted
		t.Succeeded += r.Succeeded
		t.Obsolete += r.Obsolete
		t.Failed += r.Failed
		t.Permanent += r.Permanent
		t.Deferred += r.Deferred
		if r.Attempted == 0 || r.Failed > 0 || r.Deferred > 0 {
			break
		}
	}
	return total, nil
}

// retried says what a DLQ retry did.
func retried(r access.DLQRetried) string {
	return fmt.Sprintf("attempted %d: %d succeeded (%d no longer needed), %d failed (%d now permanent), %d deferred (circuit breaker open)",
		r.Attempted, r.Succeeded, r.Obsolete, r.Failed, r.Permanent, r.Deferred)
}

// action runs an operator action against the server; its result goes to
// the status line, prefixed with what on failure.
func (m Model) action(what string, f func(context.Context) (string, error)) tea.Cmd {
	ctx, timeout := m.ctx, m.opts.Timeout
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		text, err := f(c)
		if err != nil {
			return actionMsg{text: what, err: err}
		}
		return actionMsg{text: text}
	}
}

func (m Model) filterKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch msg.String() {
	case "enter":
		m.filtering = false
		m.input.Blur()
		return m, nil
	case "esc":
		m.filtering = false
		m.input.Blur()
		m.filter[m.focus] = ""
		m.clampCursors()
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if v := m.input.Value(); v != m.filter[m.focus] {
		m.filter[m.focus] = v
		m.cursor[m.focus] = 0
	}
	return m, cmd
}

// page is how far pgup and pgdown move.
func (m Model) page() int { return max(1, m.height/2) }

// move moves the focused pane's cursor by d rows, within its rows.
func (m *Model) move(d int) {
	n := m.rowCount(m.focus)
	m.cursor[m.focus] = max(0, min(n-1, m.cursor[m.focus]+d))
}

func (m *Model) clampCursors() {
	for p := range numPanes {
		m.cursor[p] = max(0, min(m.rowCount(p)-1, m.cursor[p]))
	}
}

// selectedDLQ is the DLQ entry under the cursor, if the DLQ pane has the
// focus.
func (m Model) selectedDLQ() (DLQRow, bool) {
	if m.focus != paneDLQ {
		return DLQRow{}, false
	}
	rows := m.dlqRows()
	if c := m.cursor[paneDLQ]; c < len(rows) {
		return rows[c], true
	}
	return DLQRow{}, false
}
