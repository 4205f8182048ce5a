package top

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// UnreachableError is RunOnce's error when the server did not answer: the
// snapshot was printed all the same.
type UnreachableError struct{ Reason string }

func (e *UnreachableError) Error() string { return "the server did not answer: " + e.Reason }

// Collect makes two refreshes opts.Interval apart (one if the first gets
// no answer), so rates and quantiles are filled in, and returns the
// snapshot.
func Collect(ctx context.Context, opts Options) Snapshot {
	opts = opts.withDefaults()
	sc := NewScraper(opts.Client, opts.HasKey, opts.Now)
	tr := newTracker(opts.Server, opts.KeySource, opts.Interval)
	scrape := func() Sample {
		c, cancel := context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
		return sc.ScrapeAll(c)
	}
	first := scrape()
	tr.fold(first)
	if first.Err == nil {
		t := time.NewTimer(opts.Interval)
		select {
		case <-t.C:
			tr.fold(scrape())
		case <-ctx.Done():
			t.Stop()
		}
	}
	return tr.snapshot()
}

// RunOnce prints one snapshot: as JSON, or as a plain-text frame of every
// pane, width cells wide. It returns *UnreachableError (after printing)
// when the server did not answer.
func RunOnce(ctx context.Context, opts Options, w io.Writer, asJSON bool, width int) error {
	opts = opts.withDefaults()
	snap := Collect(ctx, opts)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(snap); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
	} else if _, err := io.WriteString(w, Frame(opts, snap, width)); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	if !snap.Reachable {
		return &UnreachableError{Reason: snap.Error}
	}
	return nil
}

// Frame renders a snapshot as text: the header, then every pane in full,
// width cells wide (colours as opts.Renderer's profile allows).
func Frame(opts Options, snap Snapshot, width int) string {
	m := New(context.Background(), opts)
	m.snap, m.tr.any = snap, true
	m.width, m.focus, m.status = width, numPanes, ""
	lines := m.headerLines(width)
	for p := range numPanes {
		rule := "── " + paneNames[p] + " "
		lines = append(lines, "", m.st.title.Render(rule+strings.Repeat("─", max(0, width-len([]rune(rule))))))
		lines = append(lines, m.paneLines(p, width, 1<<20)...)
	}
	for i := range lines {
		lines[i] = strings.TrimRight(fit(lines[i], width), " ")
	}
	return strings.Join(lines, "\n") + "\n"
}
