package loadtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRamp(t *testing.T) {
	r, err := ParseRamp("100:2000:30s")
	if err != nil {
		t.Fatal(err)
	}
	if r != (Ramp{Start: 100, End: 2000, Step: 30 * time.Second}) {
		t.Fatalf("got %+v", r)
	}
	if r.String() != "100:2000:30s" {
		t.Fatalf("String() = %q", r.String())
	}
	for _, tc := range []struct{ in, want string }{
		{"100:2000", "want start:end:step"},
		{"100:2000:30s:1", "want start:end:step"},
		{"0:2000:30s", "start rate"},
		{"x:2000:30s", "start rate"},
		{"100:-5:30s", "end rate"},
		{"100:50:30s", "below the start rate"},
		{"100:200:30", "not a duration"},
		{"100:200:100ms", "shorter than 1s"},
	} {
		_, err := ParseRamp(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRamp(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

// fakeSteps passes every rate up to limit and records the rates tried.
func fakeSteps(limit int, tried *[]int) stepFunc {
	return func(_ context.Context, rate int) (bool, error) {
		*tried = append(*tried, rate)
		return rate <= limit, nil
	}
}

func TestRampSearch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ramp   Ramp
		limit  int
		best   int
		stepsN []int
	}{
		{"doubling then bisection", Ramp{Start: 100, End: 2000, Refine: 3}, 700, 700, []int{100, 200, 400, 800, 600, 700, 750}},
		{"all pass, capped at end", Ramp{Start: 100, End: 2000, Refine: 3}, 5000, 2000, []int{100, 200, 400, 800, 1600, 2000}},
		{"first step fails", Ramp{Start: 100, End: 2000, Refine: 3}, 50, 0, []int{100}},
		{"no refinement", Ramp{Start: 100, End: 2000}, 700, 400, []int{100, 200, 400, 800}},
		{"bisection stops when the gap closes", Ramp{Start: 1, End: 10, Refine: 5}, 2, 2, []int{1, 2, 4, 3}},
		{"end fails after cap", Ramp{Start: 100, End: 1000, Refine: 2}, 900, 900, []int{100, 200, 400, 800, 1000, 900, 950}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tried []int
			best, err := tc.ramp.search(context.Background(), fakeSteps(tc.limit, &tried))
			if err != nil {
				t.Fatal(err)
			}
			if best != tc.best || !slices.Equal(tried, tc.stepsN) {
				t.Fatalf("best %d after %v, want %d after %v", best, tried, tc.best, tc.stepsN)
			}
			if len(tried) > tc.ramp.MaxSteps() {
				t.Fatalf("%d steps, MaxSteps says at most %d", len(tried), tc.ramp.MaxSteps())
			}
		})
	}
}

func TestRampSearchStopsOnError(t *testing.T) {
	boom := errors.New("boom")
	var tried []int
	best, err := Ramp{Start: 10, End: 100, Refine: 3}.search(context.Background(), func(_ context.Context, rate int) (bool, error) {
		tried = append(tried, rate)
		if rate == 40 {
			return false, boom
		}
		return true, nil
	})
	if !errors.Is(err, boom) || best != 20 || !slices.Equal(tried, []int{10, 20, 40}) {
		t.Fatalf("best %d err %v after %v", best, err, tried)
	}
}

func TestRampMaxSteps(t *testing.T) {
	for _, tc := range []struct {
		r    Ramp
		want int
	}{
		{Ramp{Start: 100, End: 100}, 1},
		{Ramp{Start: 100, End: 200}, 2},
		{Ramp{Start: 100, End: 2000, Refine: 3}, 9}, // 100 200 400 800 1600 2000 + 3
	} {
		if got := tc.r.MaxSteps(); got != tc.want {
			t.Errorf("%+v.MaxSteps() = %d, want %d", tc.r, got, tc.want)
		}
	}
}
