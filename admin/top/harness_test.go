package top

import (
	"context"
	"io"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/akidb/akidb/serve/access"
)

func fp(v float64) *float64 { return &v }

// healthyServer serves traffic on every operation, three tenants and an
// object store whose breaker is closed.
func healthyServer(clock *fakeClock) *fakeServer {
	return &fakeServer{clock: clock,
		perSecond: [numOps]float64{812, 40, 3, 0.5, 0.2},
		latency:   [numOps]float64{.0009, .0021, .0002, .004, .012},
		r429:      1.2, r4xx: 0.1,
		tenants: []fakeTenant{
			{id: "0f4c9e1a", name: "acme", allowed: 600, limited: 1.2, vectors: fp(.71), storageB: fp(.12), collections: fp(.4)},
			{id: "default", name: "default", allowed: 250},
			{id: "9b2d77c0", name: "lab", allowed: 0.4, vectors: fp(1.02), collections: fp(.1)},
		},
		uploads: [3]float64{2, 0, 0},
		storage: access.StorageStatus{Enabled: true,
			Store: &access.StoreStatus{Name: "minio", Prefix: "edge/box1", CircuitBreaker: access.BreakerStatus{
				State: "closed", Since: base.Add(-3 * time.Hour), Successes: 12034, Window: access.BreakerWindow{Calls: 118}}},
			Collections: []access.CollectionStorage{
				{Tenant: "acme", Name: "docs", TierPolicy: "memory-s3", ShipLagSeconds: 1.4, PendingUploads: 1, LoadState: "resident"},
				{Tenant: "acme", Name: "images", TierPolicy: "memory-s3", ShipLagSeconds: 0.2, LoadState: "resident"},
				{Tenant: "default", Name: "scratch", TierPolicy: "memory", LoadState: "resident"},
				{Tenant: "lab", Name: "archive", TierPolicy: "s3-only", LoadState: "evicted"},
			}},
	}
}

// brokenServer's object store is down: the breaker is open and the DLQ
// holds three pending entries and a permanent one.
func brokenServer(clock *fakeClock) *fakeServer {
	f := healthyServer(clock)
	f.uploads = [3]float64{0, 0.5, 2}
	lastErr := "put edge/box1/c/5e1/log/0000000000001201-0000000000001350.log: dial tcp 127.0.0.1:9000: connect: connection refused"
	until := base.Add(27 * time.Second)
	errAt := base.Add(-time.Second)
	f.storage.Store.CircuitBreaker = access.BreakerStatus{State: "open", StateValue: 2, Since: base.Add(-184 * time.Second), OpenUntil: &until,
		Successes: 12034, Failures: 31, Rejected: 210, Opens: 3, ConsecutiveFailures: 5,
		Window: access.BreakerWindow{Calls: 14, Failures: 12}, LastError: lastErr, LastErrorAt: &errAt}
	f.storage.Collections[0].ShipLagSeconds, f.storage.Collections[0].PendingUploads = 184, 3
	f.storage.Collections[0].LastError = lastErr
	f.storage.Collections[0].DLQ = access.DLQCounts{Pending: 2, Permanent: 1}
	f.storage.Collections[1].ShipLagSeconds = 95
	f.storage.Collections[1].DLQ = access.DLQCounts{Pending: 1}
	f.storage.Collections[3].LoadState = "unavailable"
	f.storage.Collections[3].LoadReason = "load from the object store: get edge/box1/c/a03/snapshots/0000000000000420.snap: dial tcp 127.0.0.1:9000: connect: connection refused"
	f.dlq = []access.DLQEntry{
		{ID: 7, TenantID: "0f4c9e1a", Collection: "docs", Operation: "upload", Kind: "snapshot", ObjectKey: "edge/box1/c/5e1/snapshots/0000000000001200.snap",
			RetryCount: 8, LastError: "giving up after 8 retries: " + lastErr, CreatedAt: base.Add(-2 * time.Hour), Status: "permanent"},
		{ID: 12, TenantID: "0f4c9e1a", Collection: "docs", Operation: "upload", Kind: "log", ObjectKey: "edge/box1/c/5e1/log/0000000000001201-0000000000001350.log",
			RetryCount: 2, LastError: lastErr, CreatedAt: base.Add(-184 * time.Second), Status: "pending"},
		{ID: 13, TenantID: "0f4c9e1a", Collection: "docs", Operation: "upload", Kind: "manifest", ObjectKey: "edge/box1/c/5e1/manifest.json",
			RetryCount: 1, LastError: "circuit breaker open: object store calls are suspended", CreatedAt: base.Add(-150 * time.Second), Status: "pending"},
		{ID: 14, TenantID: "0f4c9e1a", Collection: "images", Operation: "delete", Kind: "log", ObjectKey: "edge/box1/c/77a/log/0000000000000001-0000000000000090.log",
			RetryCount: 0, LastError: "circuit breaker open: object store calls are suspended", CreatedAt: base.Add(-20 * time.Second), Status: "pending"},
	}
	f.retried = access.DLQRetried{}
	f.retried.Attempted, f.retried.Succeeded = 3, 3
	return f
}

// harness drives a Model as Bubble Tea would, with the fake clock: it
// runs the refresh and action commands the model returns, and stands in
// for the timer by sending the tick the model scheduled.
type harness struct {
	t     *testing.T
	clock *fakeClock
	f     *fakeServer
	m     Model
}

func testRenderer(p termenv.Profile) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(p)
	r.SetHasDarkBackground(true)
	return r
}

func newHarness(t *testing.T, f *fakeServer, w, h int, tune ...func(*Options)) *harness {
	t.Helper()
	opts := Options{Client: f, Server: "http://127.0.0.1:8080", HasKey: true, Interval: time.Second, Now: f.clock.Now,
		Renderer: testRenderer(termenv.ANSI)}
	for _, fn := range tune {
		fn(&opts)
	}
	hs := &harness{t: t, clock: f.clock, f: f, m: New(context.Background(), opts)}
	hs.update(tea.WindowSizeMsg{Width: w, Height: h})
	hs.refresh(hs.m.Init())
	return hs
}

// update hands msg to the model and returns its command.
func (h *harness) update(msg tea.Msg) tea.Cmd {
	m, cmd := h.m.Update(msg)
	h.m = m.(Model)
	return cmd
}

// refresh runs a refresh command and delivers its result; a refresh the
// model queued meanwhile runs too.
func (h *harness) refresh(cmd tea.Cmd) {
	h.t.Helper()
	for cmd != nil && h.m.scraping {
		msg, ok := cmd().(scrapedMsg)
		if !ok {
			h.t.Fatalf("a refresh command returned %T", msg)
		}
		cmd = h.update(msg)
	}
}

// tick lets d pass and delivers the scheduled tick.
func (h *harness) tick(d time.Duration) {
	h.t.Helper()
	h.clock.Add(d)
	h.refresh(h.update(tickMsg{gen: h.m.gen}))
}

// ticks makes n refreshes a second apart.
func (h *harness) ticks(n int) {
	for range n {
		h.tick(time.Second)
	}
}

// key sends key presses ("tab", "shift+tab", "enter", "esc", "down",
// "up", "ctrl+c" or runes) and returns the last command.
func (h *harness) key(keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		cmd = h.update(keyMsg(k))
	}
	return cmd
}

func keyMsg(k string) tea.KeyMsg {
	switch k {
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "shift+tab":
		return tea.KeyMsg{Type: tea.KeyShiftTab}
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// act runs an action command and delivers its result (and the refresh
// that follows it).
func (h *harness) act(cmd tea.Cmd) {
	h.t.Helper()
	if cmd == nil {
		h.t.Fatal("no action command")
	}
	msg, ok := cmd().(actionMsg)
	if !ok {
		h.t.Fatalf("the action command returned %T", msg)
	}
	h.refresh(h.update(msg))
}
