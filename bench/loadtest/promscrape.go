package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// processMetrics are the server's own process figures from /metrics.
type processMetrics struct {
	CPUSeconds float64
	RSSBytes   float64
	HasCPU     bool
	HasRSS     bool
}

// parseProcessMetrics reads process_cpu_seconds_total and
// process_resident_memory_bytes from a Prometheus text exposition. Both
// are unlabelled single samples; other lines are ignored.
func parseProcessMetrics(r io.Reader) (processMetrics, error) {
	var pm processMetrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		var dst *float64
		var has *bool
		switch name {
		case "process_cpu_seconds_total":
			dst, has = &pm.CPUSeconds, &pm.HasCPU
		case "process_resident_memory_bytes":
			dst, has = &pm.RSSBytes, &pm.HasRSS
		default:
			continue
		}
		// The value may be followed by a timestamp.
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return pm, fmt.Errorf("metrics: %s has no value", name)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return pm, fmt.Errorf("metrics: %s value %q: %w", name, fields[0], err)
		}
		*dst, *has = v, true
	}
	if err := sc.Err(); err != nil {
		return pm, fmt.Errorf("metrics: %w", err)
	}
	return pm, nil
}

// scrapeProcess fetches /metrics and parses the process figures.
func (c *apiClient) scrapeProcess(ctx context.Context) (processMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return processMetrics{}, err
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return processMetrics{}, fmt.Errorf("GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return processMetrics{}, fmt.Errorf("GET /metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return processMetrics{}, fmt.Errorf("GET /metrics: HTTP %d", resp.StatusCode)
	}
	return parseProcessMetrics(bytes.NewReader(body))
}
