package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// quantizationPoll is how often waitQuantization asks the server.
const quantizationPoll = 250 * time.Millisecond

// waitQuantization waits until the server reports the collection's
// quantization done (ready), so that the timed load measures searches on
// the codes rather than the background encoding. A collection still
// waiting for vectors to train on (a preload below the training minimum)
// is a note, a failed one an error; ctx bounds the wait.
func waitQuantization(ctx context.Context, api *apiClient, coll string, say func(string, ...any)) (note string, err error) {
	var info struct {
		Stats struct {
			Quantization struct {
				State    string  `json:"state"`
				Step     string  `json:"step"`
				Progress float64 `json:"progress"`
				Error    string  `json:"error"`
			} `json:"quantization"`
		} `json:"stats"`
	}
	said := ""
	for {
		if err := api.doRetry(ctx, http.MethodGet, "/api/v1/collections/"+url.PathEscape(coll), nil, &info); err != nil {
			return "", fmt.Errorf("read the collection's quantization: %w", err)
		}
		q := info.Stats.Quantization
		switch q.State {
		case "ready":
			return "", nil
		case "waiting":
			return fmt.Sprintf("the collection is not quantized yet: %s", q.Step), nil
		case "failed":
			return "", fmt.Errorf("the collection's quantization failed: %s", q.Error)
		case "", "off":
			return "", fmt.Errorf("the server reports no quantization for the collection (state %q): does it support it?", q.State)
		}
		if q.Step != said {
			say("waiting for the collection's quantization: %s", q.Step)
			said = q.Step
		}
		t := time.NewTimer(quantizationPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
	}
}
