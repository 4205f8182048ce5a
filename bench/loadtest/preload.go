package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// preload inserts records 0 .. n-1 through the REST insert endpoint in
// batches, with workers concurrent requests, printing a progress line at
// most once a second. The first failed batch (after retries of 429 and
// 503) stops it.
func preload(ctx context.Context, c *apiClient, wl *Workload, coll string, n, batch, workers int, progress io.Writer) (PreloadInfo, error) {
	start := time.Now()
	if n == 0 {
		return PreloadInfo{}, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	path := "/api/v1/collections/" + coll + "/insert"
	batches := (n + batch - 1) / batch
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(workers, batches); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b := int(next.Add(1) - 1)
				if b >= batches || ctx.Err() != nil {
					return
				}
				first := b * batch
				count := min(batch, n-first)
				body := wl.InsertBody(uint64(first), uint64(count))
				if err := c.doRetry(ctx, http.MethodPost, path, body, nil); err != nil {
					cancel(fmt.Errorf("preload records %d..%d: %w", first, first+count-1, authHint(err)))
					return
				}
				done.Add(int64(count))
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-finished:
			waiting = false
		case <-tick.C:
			if progress != nil {
				d := done.Load()
				fmt.Fprintf(progress, "preload  %d/%d records (%.0f%%), %.0f/s\n", d, n, float64(d)*100/float64(n), float64(d)/time.Since(start).Seconds())
			}
		}
	}
	if err := context.Cause(ctx); err != nil {
		return PreloadInfo{}, err
	}
	secs := time.Since(start).Seconds()
	info := PreloadInfo{Records: n, Seconds: secs, PerSecond: float64(n) / secs}
	if progress != nil {
		fmt.Fprintf(progress, "preload  %d records in %.1fs (%.0f/s)\n", n, secs, info.PerSecond)
	}
	return info, nil
}
