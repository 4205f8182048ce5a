package top

import "github.com/charmbracelet/lipgloss"

// styles are made from one renderer, whose colour profile decides what
// reaches the terminal (none under NO_COLOR; a fixed one in tests). Every
// state a colour marks is also said in words or symbols, so nothing is
// lost without colour.
type styles struct {
	title, bold, dim, good, warn, bad, focus, selected, key lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	s := r.NewStyle()
	return styles{
		title:    s.Bold(true).Foreground(lipgloss.Color("6")),
		bold:     s.Bold(true),
		dim:      s.Foreground(lipgloss.Color("8")),
		good:     s.Foreground(lipgloss.Color("2")),
		warn:     s.Foreground(lipgloss.Color("3")),
		bad:      s.Bold(true).Foreground(lipgloss.Color("1")),
		focus:    s.Bold(true).Foreground(lipgloss.Color("6")),
		selected: s.Reverse(true),
		key:      s.Bold(true),
	}
}
