package top

import (
	"context"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// Options configure a Model (and RunOnce).
type Options struct {
	Client Client
	// Server is the URL shown in the header.
	Server string
	// HasKey says Client sends an API key; KeySource, if set, says where
	// top found it (shown in the header and the first status line).
	HasKey    bool
	KeySource string
	// Notice, if set, is the first status line, shown as a problem (a key
	// file that could not be read, say).
	Notice string
	// Interval is the pause between the end of one refresh and the start
	// of the next (default 1s); Timeout bounds one refresh (default 10s).
	Interval time.Duration
	Timeout  time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Renderer decides the colour profile (nil: lipgloss' default, which
	// honours NO_COLOR).
	Renderer *lipgloss.Renderer
}

// Defaults.
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 10 * time.Second
	// maxBackoff bounds the wait between refreshes of an unreachable
	// server.
	maxBackoff = 30 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Renderer == nil {
		o.Renderer = lipgloss.DefaultRenderer()
	}
	return o
}

// pane is one of the four panes.
type pane int

const (
	paneTraffic pane = iota
	paneTenants
	paneStorage
	paneDLQ
	numPanes
)

var paneNames = [numPanes]string{"Traffic", "Tenants", "Storage", "DLQ"}

// confirmation is an action waiting for y or n.
type confirmation struct {
	prompt, what string
	run          tea.Cmd
}

// Model is the Bubble Tea model of `akidb top`.
type Model struct {
	opts    Options
	ctx     context.Context
	scraper *Scraper
	tr      *tracker
	snap    Snapshot
	keys    keyMap
	help    help.Model
	st      styles

	width, height int
	focus         pane
	cursor        [numPanes]int
	offset        [numPanes]int
	filter        [numPanes]string
	filtering     bool
	input         textinput.Model
	confirm       *confirmation
	showHelp      bool
	paused        bool

	status    string
	statusBad bool

	// Polling: one refresh at a time. gen numbers the scheduled ticks, so
	// a tick made stale by a refresh started another way is ignored.
	scraping  bool
	queued    bool
	queuedAll bool
	gen       int
	failures  int
	nextAt    time.Time
	quitting  bool
}

// New returns the model; ctx bounds every request it makes.
func New(ctx context.Context, opts Options) Model {
	opts = opts.withDefaults()
	st := newStyles(opts.Renderer)
	in := textinput.New()
	in.Prompt = "/"
	in.PromptStyle, in.TextStyle = st.key, opts.Renderer.NewStyle()
	in.Cursor.Style = st.selected
	in.Cursor.TextStyle = opts.Renderer.NewStyle()
	in.Cursor.SetMode(cursor.CursorStatic)
	h := help.New()
	h.Styles = help.Styles{ShortKey: st.key, ShortDesc: st.dim, ShortSeparator: st.dim, FullKey: st.key, FullDesc: opts.Renderer.NewStyle(),
		FullSeparator: st.dim, Ellipsis: st.dim}
	m := Model{opts: opts, ctx: ctx, scraper: NewScraper(opts.Client, opts.HasKey, opts.Now),
		tr: newTracker(opts.Server, opts.KeySource, opts.Interval), keys: newKeyMap(), help: h, st: st, input: in,
		scraping: true} // Init starts the first refresh
	m.snap = m.tr.snapshot()
	switch {
	case opts.Notice != "":
		m.setStatus(opts.Notice, true)
	case opts.KeySource != "":
		m.setStatus("using "+opts.KeySource, false)
	}
	return m
}

// Snapshot is what the model shows now.
func (m Model) Snapshot() Snapshot { return m.snap }
