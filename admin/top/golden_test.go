package top

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

var update = flag.Bool("update", false, "rewrite the golden views in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
// The files hold the frame as a terminal gets it (the ANSI profile's
// escapes); name.txt beside it is the same frame without them, for
// reading.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	plain := filepath.Join("testdata", name+".txt")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(plain, []byte(ansi.Strip(got)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./admin/top -run %s -update to write it)", err, t.Name())
	}
	if got != string(want) {
		wantPlain, _ := os.ReadFile(plain)
		t.Errorf("%s differs from %s (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", t.Name(), path, ansi.Strip(got), wantPlain)
	}
}

// TestGoldenViews renders a healthy server, one whose object store is
// down (breaker open, DLQ entries) and an unreachable one, at 80x24 (one
// pane at a time) and 160x48 (all panes), with the ANSI colour profile.
func TestGoldenViews(t *testing.T) {
	scenarios := []struct {
		name  string
		setup func(h *harness)
	}{
		{"healthy", func(h *harness) {}},
		{"tenants", func(h *harness) {
			h.key("tab") // the Tenants pane
		}},
		{"broken", func(h *harness) {
			h.key("tab", "tab", "tab") // the DLQ pane
		}},
		{"unreachable", func(h *harness) {
			h.f.down = errRefused
			h.tick(time.Second)
			h.tick(2 * time.Second)
			h.key("tab", "tab") // the Storage pane
		}},
	}
	for _, sc := range scenarios {
		for _, size := range [][2]int{{80, 24}, {160, 48}} {
			t.Run(sc.name+"-"+strings.Join([]string{itoa(size[0]), itoa(size[1])}, "x"), func(t *testing.T) {
				clock := &fakeClock{t: base.Add(-200 * time.Second)}
				f := healthyServer(clock)
				if sc.name == "broken" {
					f = brokenServer(clock)
				}
				h := newHarness(t, f, size[0], size[1])
				h.ticks(200)
				sc.setup(h)
				view := h.m.View()
				for i, line := range strings.Split(view, "\n") {
					if w := ansi.StringWidth(line); w > size[0] {
						t.Errorf("line %d is %d cells wide, more than %d: %q", i, w, size[0], ansi.Strip(line))
					}
				}
				if n := strings.Count(view, "\n") + 1; n != size[1] {
					t.Errorf("%d lines, want %d", n, size[1])
				}
				golden(t, sc.name+"-"+itoa(size[0])+"x"+itoa(size[1]), view)
			})
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
