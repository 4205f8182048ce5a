package migrate

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress is told how loading goes: Start once with the records to load
// (done of them already loaded by an earlier, interrupted run), Collection
// when a collection starts, Add after each acknowledged batch, Finish at
// the end (also after an error).
type Progress interface {
	Start(total, done int64)
	Collection(key string)
	Add(n int)
	Finish()
}

type nopProgress struct{}

func (nopProgress) Start(int64, int64) {}
func (nopProgress) Collection(string)  {}
func (nopProgress) Add(int)            {}
func (nopProgress) Finish()            {}

// NewBarProgress draws a progress bar (records/s, ETA) on w, a terminal.
func NewBarProgress(w io.Writer) Progress { return &barProgress{w: w} }

type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (b *barProgress) Start(total, done int64) {
	b.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription("loading"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("records"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionFullWidth(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
	if done > 0 {
		_ = b.bar.Set64(done)
	}
}

func (b *barProgress) Collection(key string) {
	if b.bar != nil {
		b.bar.Describe(key)
	}
}

func (b *barProgress) Add(n int) {
	if b.bar != nil {
		_ = b.bar.Add(n)
	}
}

func (b *barProgress) Finish() {
	if b.bar != nil && !b.bar.IsFinished() {
		_ = b.bar.Exit()
		fmt.Fprintln(b.w)
	}
}

// NewLineProgress writes a plain line to w at most every interval (and
// when a collection starts and at the end), for logs and pipes:
//
//	loading: 12000/50000 records (24.0%), 3400 records/s, ETA 11s; tenant/collection
func NewLineProgress(w io.Writer, interval time.Duration, now func() time.Time) Progress {
	if now == nil {
		now = time.Now
	}
	return &lineProgress{w: w, every: interval, now: now}
}

type lineProgress struct {
	mu          sync.Mutex
	w           io.Writer
	every       time.Duration
	now         func() time.Time
	total, done int64
	startDone   int64
	start, last time.Time
	key         string
}

func (l *lineProgress) Start(total, done int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total, l.done, l.startDone = total, done, done
	l.start = l.now()
	l.last = l.start
	if done > 0 {
		fmt.Fprintf(l.w, "loading: resuming at %d/%d records\n", done, total)
	}
}

func (l *lineProgress) Collection(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.key = key
	fmt.Fprintf(l.w, "loading %s\n", key)
}

func (l *lineProgress) Add(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done += int64(n)
	if now := l.now(); now.Sub(l.last) >= l.every {
		l.last = now
		l.printLocked(now)
	}
}

func (l *lineProgress) Finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.printLocked(l.now())
}

func (l *lineProgress) printLocked(now time.Time) {
	pct := 100.0
	if l.total > 0 {
		pct = 100 * float64(l.done) / float64(l.total)
	}
	line := fmt.Sprintf("loading: %d/%d records (%.1f%%)", l.done, l.total, pct)
	if el := now.Sub(l.start).Seconds(); el > 0 && l.done > l.startDone {
		rate := float64(l.done-l.startDone) / el
		line += fmt.Sprintf(", %.0f records/s", rate)
		if l.done < l.total {
			eta := time.Duration(float64(l.total-l.done) / rate * float64(time.Second)).Round(time.Second)
			line += fmt.Sprintf(", ETA %s", eta)
		}
	}
	if l.key != "" && l.done < l.total {
		line += "; " + l.key
	}
	fmt.Fprintln(l.w, line)
}
