package ann

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/akidb/akidb/bench/dataset"
)

// build hands chunks of rows to cfg.Threads goroutines until all rows are
// added, an Add fails or ctx is cancelled, and returns the wall time taken.
func build(ctx context.Context, idx Index, base dataset.Matrix, cfg Config) (time.Duration, error) {
	var (
		nextChunk atomic.Int64
		rowsDone  atomic.Int64
		stop      atomic.Bool
		errMu     sync.Mutex
		firstErr  error
		wg        sync.WaitGroup
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		stop.Store(true)
	}

	start := cfg.Clock()
	prog := startProgress(cfg.Progress, cfg.ProgressInterval, base.N, start, cfg.Clock, &rowsDone)
	prog.lines = cfg.ProgressLines
	chunk := int64(cfg.ChunkRows)
	for t := 0; t < cfg.Threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
				from := (nextChunk.Add(1) - 1) * chunk
				if from >= int64(base.N) {
					return
				}
				to := min(from+chunk, int64(base.N))
				if err := idx.Add(base, int(from), int(to)); err != nil {
					fail(fmt.Errorf("add rows [%d, %d): %w", from, to, err))
					return
				}
				rowsDone.Add(to - from)
			}
		}()
	}
	wg.Wait()
	elapsed := cfg.Clock().Sub(start)
	prog.finish(elapsed)
	return elapsed, firstErr
}

// progress owns the single '\r'-rewritten build line (or, with lines,
// writes each update as a line of its own).
type progress struct {
	w       io.Writer
	total   int
	done    *atomic.Int64
	stopCh  chan struct{}
	stopped chan struct{}
	width   int // length of the last line, to blank out leftovers
	lines   bool
}

// startProgress starts a ticker goroutine that redraws the line every
// interval from the done counter. With a nil writer it does nothing.
func startProgress(w io.Writer, interval time.Duration, total int, start time.Time, clock func() time.Time, done *atomic.Int64) *progress {
	p := &progress{w: w, total: total, done: done}
	if w == nil {
		return p
	}
	p.stopCh, p.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.stopped)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-p.stopCh:
				return
			case <-tick.C:
				p.draw(done.Load(), clock().Sub(start), "")
			}
		}
	}()
	return p
}

// finish stops the ticker and draws the final line, ending it with '\n'.
func (p *progress) finish(elapsed time.Duration) {
	if p.w == nil {
		return
	}
	close(p.stopCh)
	<-p.stopped
	p.draw(p.done.Load(), elapsed, "\n")
}

func (p *progress) draw(done int64, elapsed time.Duration, end string) {
	pct := 100 * float64(done) / float64(max(p.total, 1))
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	line := fmt.Sprintf("build: %d/%d vectors (%.1f%%) %.0f vectors/s elapsed %.1fs", done, p.total, pct, rate, elapsed.Seconds())
	if left := int64(p.total) - done; left > 0 && rate > 0 {
		line += fmt.Sprintf(" ETA %.0fs", float64(left)/rate)
	}
	if p.lines {
		_, _ = io.WriteString(p.w, line+"\n")
		return
	}
	// Padded to the widest line drawn so far: that is what the terminal
	// shows (a line shortened by the ETA's digits must cover it all).
	pad := max(p.width-len(line), 0)
	p.width = len(line) + pad
	_, _ = io.WriteString(p.w, "\r"+line+strings.Repeat(" ", pad)+end)
}
