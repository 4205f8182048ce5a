package top

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/akidb/akidb/serve/api"
)

func newBroken(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, brokenServer(&fakeClock{t: base}), 80, 24)
	h.ticks(2)
	h.f.Calls()
	return h
}

func (h *harness) view() string { return ansi.Strip(h.m.View()) }

func (h *harness) wantStatus(want string) {
	h.t.Helper()
	if !strings.Contains(h.m.status, want) {
		h.t.Fatalf("status %q, want it to say %q", h.m.status, want)
	}
}

// wantCalls checks the actions the fake server got since the last check
// (refreshes left out).
func (h *harness) wantCalls(want ...string) {
	h.t.Helper()
	var got []string
	for _, c := range h.f.Calls() {
		switch {
		case c == "ready", c == "metrics", c == "admin metrics", c == "storage", c == "tenants", c == "status", strings.HasPrefix(c, "dlq "):
		default:
			got = append(got, c)
		}
	}
	if !slices.Equal(got, want) {
		h.t.Fatalf("actions %q, want %q", got, want)
	}
}

func TestFocusAndCursor(t *testing.T) {
	h := newBroken(t)
	if h.m.focus != paneTraffic {
		t.Fatalf("starts on %v", h.m.focus)
	}
	h.key("tab", "tab", "tab")
	if h.m.focus != paneDLQ {
		t.Fatalf("three tabs: %v", h.m.focus)
	}
	h.key("tab")
	if h.m.focus != paneTraffic {
		t.Fatal("tab does not wrap around")
	}
	h.key("shift+tab")
	if h.m.focus != paneDLQ {
		t.Fatal("shift+tab does not go back")
	}
	for _, c := range []struct {
		keys []string
		want int
	}{
		{[]string{"j"}, 1}, {[]string{"down", "down"}, 3}, {[]string{"j"}, 3}, // stops at the last entry
		{[]string{"k"}, 2}, {[]string{"up"}, 1}, {[]string{"G"}, 3}, {[]string{"g"}, 0}, {[]string{"k"}, 0},
	} {
		h.key(c.keys...)
		if got := h.m.cursor[paneDLQ]; got != c.want {
			t.Fatalf("after %v: cursor %d, want %d", c.keys, got, c.want)
		}
	}
	h.key("j")
	if !strings.Contains(h.view(), "› ") || !strings.Contains(h.view(), "manifest") {
		t.Fatalf("the selected entry is not marked:\n%s", h.view())
	}
	if e, ok := h.m.selectedDLQ(); !ok || e.ID != 12 {
		t.Fatalf("selected %+v", e)
	}
}

func TestRetryAll(t *testing.T) {
	h := newBroken(t)
	cmd := h.key("r")
	h.wantStatus("retrying the DLQ")
	h.act(cmd)
	// The server retries a batch (two here) per call: r goes on while
	// every entry of a batch went through, and stops at an empty one.
	h.wantCalls("retry all", "retry all", "retry all")
	h.wantStatus("attempted 3: 3 succeeded")
	if h.m.statusBad {
		t.Fatal("a success is shown as a problem")
	}
	// The refresh after the action shows the pending entries gone; the
	// permanent one waits for R or d.
	if q := h.m.Snapshot().DLQ; q.Pending != 0 || q.Permanent != 1 || len(q.Entries) != 1 {
		t.Fatalf("DLQ after the retry: %+v", q)
	}
	// A store still failing: one batch, not the retries of every entry
	// spent.
	h.f.dlq = brokenServer(h.clock).dlq
	h.f.retryFails = true
	h.act(h.key("r"))
	h.wantCalls("retry all")
	h.wantStatus("attempted 2: 0 succeeded (0 no longer needed), 2 failed")
}

func TestRetrySelectedNeedsAnEntry(t *testing.T) {
	h := newBroken(t)
	if cmd := h.key("R"); cmd != nil {
		t.Fatal("R outside the DLQ pane made a request")
	}
	h.wantStatus("select a DLQ entry first")
	if !h.m.statusBad {
		t.Fatal("the refusal is not shown as a problem")
	}
	h.key("shift+tab", "j")
	h.act(h.key("R"))
	h.wantCalls("retry 12")
	h.wantStatus("attempted 3")
}

func TestDiscardAsksFirst(t *testing.T) {
	h := newBroken(t)
	h.key("shift+tab", "j", "j") // entry 13
	if cmd := h.key("d"); cmd != nil {
		t.Fatal("d made a request before the confirmation")
	}
	if v := h.view(); !strings.Contains(v, "discard DLQ entry 13, a pending manifest upload of acme/docs? [y/n]") || !strings.Contains(v, "[y/n]") {
		t.Fatalf("no confirmation prompt:\n%s", v)
	}
	h.key("n")
	h.wantStatus("cancelled")
	h.wantCalls()
	h.key("d")
	if cmd := h.key("x"); cmd != nil { // any other key cancels too
		t.Fatal("x confirmed")
	}
	h.wantCalls()
	h.key("d")
	h.act(h.key("y"))
	h.wantCalls("discard 13")
	h.wantStatus("discarded DLQ entry 13")
	for _, e := range h.m.Snapshot().DLQ.Entries {
		if e.ID == 13 {
			t.Fatal("entry 13 is still listed after the refresh")
		}
	}
	// The cursor stays within the shorter list.
	if c := h.m.cursor[paneDLQ]; c > 2 {
		t.Fatalf("cursor %d past 3 entries", c)
	}
}

func TestResetBreakerAsksFirst(t *testing.T) {
	h := newBroken(t)
	h.key("b")
	if v := h.view(); !strings.Contains(v, "reset the circuit breaker of minio (now open)?") {
		t.Fatalf("no confirmation prompt:\n%s", v)
	}
	h.key("esc")
	h.wantStatus("cancelled")
	h.wantCalls()
	h.key("b")
	cmd := h.key("y")
	h.wantStatus("reset the circuit breaker …")
	h.act(cmd)
	h.wantCalls("reset breaker")
	h.wantStatus("circuit breaker reset: closed")
	if s := h.m.Snapshot().Storage.Stores[0].Breaker.State; s != "closed" {
		t.Fatalf("breaker %s after the reset's refresh", s)
	}
}

func TestActionErrorsAreShown(t *testing.T) {
	h := newBroken(t)
	h.f.actionErr = &api.Error{Code: api.CodePermissionDenied, Message: "role writer may not storage.admin"}
	h.act(h.key("r"))
	h.wantStatus("retry DLQ: permission_denied: role writer may not storage.admin")
	if !h.m.statusBad {
		t.Fatal("the failure is not shown as a problem")
	}
	h.key("b")
	h.act(h.key("Y"))
	h.wantStatus("reset the circuit breaker: permission_denied")
	// A server that stopped answering: the action says so.
	h.f.down = errRefused
	h.act(h.key("r"))
	h.wantStatus("retry DLQ: is the server running")
}

func TestNoBreakerToReset(t *testing.T) {
	f := healthyServer(&fakeClock{t: base})
	f.storageForbidden = true
	h := newHarness(t, f, 80, 24)
	if cmd := h.key("b"); cmd != nil || h.m.confirm != nil {
		t.Fatal("b asked to reset a breaker the key cannot see")
	}
	h.wantStatus("no circuit breaker to reset: storage: needs a key with storage.read")
}

func TestFilter(t *testing.T) {
	h := newBroken(t)
	h.key("/")
	h.wantStatus("nothing to filter in Traffic")
	if h.m.filtering {
		t.Fatal("filtering Traffic")
	}
	h.key("shift+tab", "/", "i", "m", "a")
	if !h.m.filtering || h.m.filter[paneDLQ] != "ima" {
		t.Fatalf("filter %q while typing", h.m.filter[paneDLQ])
	}
	if rows := h.m.dlqRows(); len(rows) != 1 || rows[0].ID != 14 {
		t.Fatalf("filtered rows %+v", rows)
	}
	if v := h.view(); !strings.Contains(v, "[DLQ 4 /ima]") || strings.Contains(v, "manifest") {
		t.Fatalf("the view does not show the filter:\n%s", v)
	}
	// Keys go to the filter while typing: q is a letter, not quit.
	if cmd := h.key("q"); cmd != nil && h.m.quitting {
		t.Fatal("q quit while typing a filter")
	}
	h.key("backspace", "enter")
	if h.m.filtering || h.m.filter[paneDLQ] != "ima" {
		t.Fatalf("enter: filtering %v, filter %q", h.m.filtering, h.m.filter[paneDLQ])
	}
	// R acts on the filtered list's entry.
	h.act(h.key("R"))
	h.wantCalls("retry 14")
	h.key("/", "esc")
	if h.m.filter[paneDLQ] != "" || len(h.m.dlqRows()) != 4 {
		t.Fatalf("esc did not clear the filter: %q", h.m.filter[paneDLQ])
	}
	h.key("/", "z", "z", "z", "enter")
	if !strings.Contains(h.view(), "no entry matches the filter") {
		t.Fatalf("an empty filter result says nothing:\n%s", h.view())
	}
	if cmd := h.key("d"); cmd != nil || h.m.confirm != nil {
		t.Fatal("d with no entry selected")
	}
}

func TestQuit(t *testing.T) {
	for _, keys := range [][]string{{"q"}, {"ctrl+c"}, {"tab", "/", "ctrl+c"}, {"?", "q"}} {
		h := newBroken(t)
		cmd := h.key(keys...)
		if cmd == nil {
			t.Fatalf("%v: no command", keys)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok || !h.m.quitting || h.m.View() != "" {
			t.Fatalf("%v did not quit", keys)
		}
	}
}

func TestHelp(t *testing.T) {
	h := newBroken(t)
	h.key("?")
	v := h.view()
	for _, b := range h.m.keys.FullHelp() {
		for _, k := range b {
			if !strings.Contains(v, k.Help().Key) || !strings.Contains(v, k.Help().Desc) {
				t.Errorf("the help lacks %q %q", k.Help().Key, k.Help().Desc)
			}
		}
	}
	h.key("?")
	if h.m.showHelp {
		t.Fatal("? does not close the help")
	}
	h.key("?", "esc")
	if h.m.showHelp {
		t.Fatal("esc does not close the help")
	}
}

// TestPolling: one refresh at a time; the next one --interval after the
// previous ended; pause stops it, resume refreshes at once; an action's
// refresh waits behind one under way; a stale tick does nothing.
func TestPolling(t *testing.T) {
	h := newHarness(t, healthyServer(&fakeClock{t: base}), 80, 24)
	if h.m.scraping || h.m.nextAt != base.Add(time.Second) {
		t.Fatalf("after the first refresh: scraping %v, next %v", h.m.scraping, h.m.nextAt)
	}
	stale := h.m.gen - 1
	if cmd := h.update(tickMsg{gen: stale}); cmd != nil {
		t.Fatal("a stale tick started a refresh")
	}
	// A tick starts a refresh; while it runs, an action's refresh waits.
	cmd := h.update(tickMsg{gen: h.m.gen})
	if !h.m.scraping || cmd == nil {
		t.Fatal("the tick started no refresh")
	}
	if again := h.update(actionMsg{text: "done"}); again != nil || !h.m.queued {
		t.Fatal("a second refresh started while one runs")
	}
	if again := h.update(tickMsg{gen: h.m.gen}); again != nil {
		t.Fatal("a tick during a refresh started another")
	}
	n := len(h.f.Calls())
	h.refresh(cmd) // the first ends, the queued one runs
	if got := len(h.f.Calls()); got == 0 || h.m.queued || h.m.scraping {
		t.Fatalf("the queued refresh did not run (%d calls before, %d after)", n, got)
	}
	// Pause: the scheduled tick is dropped.
	h.key("p")
	if !strings.Contains(h.view(), "PAUSED") {
		t.Fatal("the header does not say paused")
	}
	if cmd := h.update(tickMsg{gen: h.m.gen}); cmd != nil {
		t.Fatal("a tick refreshed while paused")
	}
	h.refresh(h.key("p"))
	if len(h.f.Calls()) == 0 {
		t.Fatal("resuming did not refresh")
	}
	h.wantStatus("refresh resumed")
}

// TestBackoff: an unreachable server is asked again after 2, 4, 8, 16,
// 30, 30 s; the first answer brings back the interval.
func TestBackoff(t *testing.T) {
	h := newHarness(t, healthyServer(&fakeClock{t: base}), 80, 24)
	h.f.down = errRefused
	for _, want := range []time.Duration{2, 4, 8, 16, 30, 30} {
		h.tick(h.m.nextAt.Sub(h.clock.Now()))
		if got := h.m.nextAt.Sub(h.clock.Now()); got != want*time.Second {
			t.Fatalf("after %d failures: next in %v, want %v", h.m.failures, got, want*time.Second)
		}
	}
	v := h.view()
	if !strings.Contains(v, "✗ unreachable") || !strings.Contains(v, "no answer since 12:00:00") || !strings.Contains(v, "is the server running") ||
		!strings.Contains(h.m.Snapshot().Error, "connection refused") {
		t.Fatalf("the view does not say the server is down:\n%s", v)
	}
	h.f.down = nil
	h.tick(h.m.nextAt.Sub(h.clock.Now()))
	if got := h.m.nextAt.Sub(h.clock.Now()); got != time.Second || !h.m.Snapshot().Reachable {
		t.Fatalf("after recovering: next in %v", got)
	}
}
