package loadtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Ramp searches for the highest constant rate that meets the SLO.
//
// The scheme: run Step at Start qps, then keep doubling the rate (capped at
// End: 100 -> 200 -> 400 -> 800 -> 1600 -> 2000) while each step meets the
// SLO. At the first step that misses it, bisect between the last passing
// rate and the failing one for at most Refine more steps (800 passed, 1600
// failed: try 1200, then 1000 or 1400, ...). The answer is the highest rate
// whose step passed. Every step is its own constant-rate attack of length
// Step; a step starts only when the previous one's requests have all
// returned, so steps do not overlap. At most
// ceil(log2(End/Start)) + 1 + Refine steps run.
type Ramp struct {
	Start, End int
	Step       time.Duration
	// Refine is how many bisection steps follow the first failing step.
	Refine int
}

// MinRampStep is the shortest step: a shorter one has too few requests for
// a p99 to mean anything at modest rates.
const MinRampStep = time.Second

// ParseRamp parses "start:end:step", for example "100:2000:30s": from 100
// to 2000 qps, each step lasting 30s. Refine is left at zero.
func ParseRamp(s string) (Ramp, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Ramp{}, fmt.Errorf("%q: want start:end:step, for example 100:2000:30s", s)
	}
	start, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || start < 1 {
		return Ramp{}, fmt.Errorf("%q: start rate %q is not a positive integer", s, parts[0])
	}
	end, err := strconv.Atoi(strings.TrimSpace(parts[1]))
	if err != nil || end < 1 {
		return Ramp{}, fmt.Errorf("%q: end rate %q is not a positive integer", s, parts[1])
	}
	step, err := time.ParseDuration(strings.TrimSpace(parts[2]))
	if err != nil {
		return Ramp{}, fmt.Errorf("%q: step %q is not a duration (like 30s)", s, parts[2])
	}
	r := Ramp{Start: start, End: end, Step: step}
	if err := r.validate(); err != nil {
		return Ramp{}, fmt.Errorf("%q: %w", s, err)
	}
	return r, nil
}

func (r Ramp) validate() error {
	switch {
	case r.Start < 1:
		return fmt.Errorf("start rate must be at least 1 qps")
	case r.End < r.Start:
		return fmt.Errorf("end rate %d is below the start rate %d", r.End, r.Start)
	case r.Step < MinRampStep:
		return fmt.Errorf("step %s is shorter than %s", r.Step, MinRampStep)
	case r.Refine < 0:
		return fmt.Errorf("refine steps must not be negative")
	}
	return nil
}

// String is the ramp in the flag's syntax.
func (r Ramp) String() string {
	return fmt.Sprintf("%d:%d:%s", r.Start, r.End, r.Step)
}

// MaxSteps bounds how many steps the search can run.
func (r Ramp) MaxSteps() int {
	n := 1
	for rate := r.Start; rate < r.End; n++ {
		rate = min(rate*2, r.End)
	}
	return n + r.Refine
}

// stepFunc runs one step at rate and says whether it met the SLO.
type stepFunc func(ctx context.Context, rate int) (passed bool, err error)

// search runs the ramp's steps through run and returns the highest passing
// rate (0 if none passed).
func (r Ramp) search(ctx context.Context, run stepFunc) (best int, err error) {
	failed := 0
	for rate := r.Start; ; rate = min(rate*2, r.End) {
		ok, err := run(ctx, rate)
		if err != nil {
			return best, err
		}
		if !ok {
			failed = rate
			break
		}
		best = rate
		if rate >= r.End {
			return best, nil
		}
	}
	if best == 0 {
		return 0, nil // even the start rate missed the SLO
	}
	lo, hi := best, failed
	for i := 0; i < r.Refine; i++ {
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		ok, err := run(ctx, mid)
		if err != nil {
			return lo, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}
