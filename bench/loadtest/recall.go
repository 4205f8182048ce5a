package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/akidb/akidb/bench/dataset"
)

// recallStream offsets the recall check's query indices so its queries are
// not the load's (which used indices from 0).
const recallStream uint64 = 1 << 62

type queryAnswer struct {
	Results []struct {
		ID string `json:"id"`
	} `json:"results"`
}

// checkRecall sends sample queries twice, as the load sends them and with
// "exact": true, and returns the mean and the worst recall@k of the first
// against the second. It runs after the load, outside the timed window.
func checkRecall(ctx context.Context, c *apiClient, wl *Workload, coll string, k, sample, workers int) (mean, worst float64, err error) {
	path := "/api/v1/collections/" + coll + "/query"
	recalls := make([]float64, sample)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for w := 0; w < max(1, workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := recallStream + uint64(i)
				var approx, exact queryAnswer
				err := c.doRetry(ctx, http.MethodPost, path, wl.QueryBody(j, false), &approx)
				if err == nil {
					err = c.doRetry(ctx, http.MethodPost, path, wl.QueryBody(j, true), &exact)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("recall check, query %d: %w", i, err)
					}
					mu.Unlock()
					continue
				}
				recalls[i] = answerRecall(approx, exact, k)
			}
		}()
	}
feed:
	for i := 0; i < sample; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return 0, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	worst = 1
	for _, r := range recalls {
		mean += r
		worst = min(worst, r)
	}
	return mean / float64(sample), worst, nil
}

// answerRecall is dataset.QueryRecall over the string ids of two answers.
func answerRecall(got, want queryAnswer, k int) float64 {
	ids := map[string]int32{}
	intern := func(id string) int32 {
		if n, ok := ids[id]; ok {
			return n
		}
		n := int32(len(ids))
		ids[id] = n
		return n
	}
	gt := make([]int32, len(want.Results))
	for i, r := range want.Results {
		gt[i] = intern(r.ID)
	}
	res := make([]int32, len(got.Results))
	for i, r := range got.Results {
		res[i] = intern(r.ID)
	}
	return dataset.QueryRecall(res, gt, k)
}
