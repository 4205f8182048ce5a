package top

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key top answers to; the help (?) and the footer are
// made from it, and docs/top.md's key table is checked against it.
type keyMap struct {
	Next, Prev, Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Filter, RetryAll, RetryOne, Discard, ResetBreaker   key.Binding
	Pause, Help, Quit                                   key.Binding
	Yes, No                                             key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Next:         key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		Prev:         key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),
		Up:           key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:         key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:       key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown:     key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "page down")),
		Top:          key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("home/g", "first row")),
		Bottom:       key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end/G", "last row")),
		Filter:       key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter the pane")),
		RetryAll:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "retry the DLQ now")),
		RetryOne:     key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "retry the selected entry")),
		Discard:      key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "discard the selected entry")),
		ResetBreaker: key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "reset the circuit breaker")),
		Pause:        key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause/resume refresh")),
		Help:         key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:         key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Yes:          key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "confirm")),
		No:           key.NewBinding(key.WithKeys("n", "N", "esc"), key.WithHelp("n/esc", "cancel")),
	}
}

// ShortHelp is the footer.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Help, k.Quit, k.Next, k.Down, k.Filter, k.RetryAll, k.RetryOne, k.Discard, k.ResetBreaker, k.Pause}
}

// FullHelp is the help screen, in columns.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Next, k.Prev, k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Filter, k.RetryAll, k.RetryOne, k.Discard, k.ResetBreaker},
		{k.Pause, k.Help, k.Quit, k.Yes, k.No},
	}
}
