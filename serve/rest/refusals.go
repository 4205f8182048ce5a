package rest

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// refusalLogInterval is how often refused requests are summed up in one
// warning.
const refusalLogInterval = 10 * time.Second

// refusalLog sums up requests refused with 503 unavailable (the engine
// still recovering, the server shutting down, the in-flight bound, the
// request timeout) into one warning per interval with a count. One
// warning per request would flood the log exactly when the server is
// busiest, and a client retrying against a recovering server sends many.
type refusalLog struct {
	log   *slog.Logger
	now   func() time.Time
	every time.Duration

	mu    sync.Mutex
	next  time.Time // the next warning is due at or after this
	count int       // refusals since the last warning
}

func newRefusalLog(log *slog.Logger, now func() time.Time) *refusalLog {
	if now == nil {
		now = time.Now
	}
	return &refusalLog{log: log, now: now, every: refusalLogInterval}
}

// refused counts one refusal and logs the count when a warning is due:
// at the first refusal, then at the first one at least an interval after
// the last warning. reason is the last refusal's message.
func (r *refusalLog) refused(ctx context.Context, reason string) {
	now := r.now()
	r.mu.Lock()
	r.count++
	if now.Before(r.next) {
		r.mu.Unlock()
		return
	}
	n := r.count
	r.count = 0
	r.next = now.Add(r.every)
	r.mu.Unlock()
	r.log.WarnContext(ctx, "requests refused: 503 unavailable", "count", n, "since_last", r.every, "last_reason", reason)
}
