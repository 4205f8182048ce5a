package loadtest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"
)

// maxDistinctErrors is how many distinct errors a report lists.
const maxDistinctErrors = 10

// maxErrorBody is how much of each answer the load reads into memory: the
// error envelope fits, and the rest of the body is read and discarded.
const maxErrorBody = 4096

// collector aggregates the results of one constant-rate attack.
type collector struct {
	overall vegeta.Metrics
	byOp    map[Op]*vegeta.Metrics
	errs    []ErrorCount
	errIdx  map[string]int
	other   uint64
}

func newCollector() *collector {
	return &collector{byOp: map[Op]*vegeta.Metrics{}, errIdx: map[string]int{}}
}

func (c *collector) add(op Op, r *vegeta.Result) {
	c.overall.Add(r)
	m := c.byOp[op]
	if m == nil {
		m = &vegeta.Metrics{}
		c.byOp[op] = m
	}
	m.Add(r)
	if r.Error == "" {
		return
	}
	kind, example := classifyError(r)
	key := string(op) + "\x00" + kind
	if i, ok := c.errIdx[key]; ok {
		c.errs[i].Count++
		return
	}
	if len(c.errs) >= maxDistinctErrors {
		c.other++
		return
	}
	c.errIdx[key] = len(c.errs)
	c.errs = append(c.errs, ErrorCount{Op: string(op), Error: kind, Example: example, Count: 1})
}

func (c *collector) close() {
	c.overall.Close()
	for _, m := range c.byOp {
		m.Close()
	}
}

// classifyError names the kind of a failed result without its variable
// parts (ids, URLs), so that one problem is one entry, and keeps the
// server's message as an example.
func classifyError(r *vegeta.Result) (kind, example string) {
	if r.Code != 0 {
		code, msg := parseErrorBody(r.Body)
		kind = fmt.Sprintf("HTTP %d", r.Code)
		if code != "" {
			kind += " " + code
		}
		return kind, msg
	}
	// A transport error reads `Post "http://...": dial tcp ...`: drop the
	// method and URL.
	e := r.Error
	if i := strings.Index(e, `": `); i >= 0 && strings.HasPrefix(e, titleMethod(r.Method)+` "`) {
		e = e[i+3:]
	}
	return e, ""
}

func titleMethod(m string) string {
	if m == "" {
		return ""
	}
	return m[:1] + strings.ToLower(m[1:])
}

// attackRunner runs constant-rate attacks against one workload.
type attackRunner struct {
	wl *Workload
	// newAttacker makes a fresh vegeta attacker (one per attack: a stopped
	// attacker stays stopped) over the run's HTTP client.
	newAttacker func() *vegeta.Attacker
	progress    io.Writer  // nil: quiet
	plot        *plot.Plot // nil: no plot
}

// attack sends rate requests per second for dur and aggregates the results.
// Cancelling ctx stops the attack; the requests already answered are kept.
func (a *attackRunner) attack(ctx context.Context, name string, rate int, dur time.Duration) *collector {
	col := newCollector()
	atk := a.newAttacker()
	results := atk.Attack(a.wl.Targeter(), vegeta.ConstantPacer{Freq: rate, Per: time.Second}, dur, name)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start := time.Now()
	var lastN uint64
	lastT := start
	done := ctx.Done()
	for {
		select {
		case r, ok := <-results:
			if !ok {
				col.close()
				return col
			}
			op, known := a.wl.OpOf(r.Method, r.URL)
			if !known {
				op = "unknown"
			}
			if a.plot != nil {
				_ = a.plot.Add(r) // errors only for out-of-order sequence numbers, which vegeta never produces
			}
			r.Body = nil // keep no answer bodies past classification
			col.add(op, r)
		case now := <-tick.C:
			if a.progress == nil {
				continue
			}
			n := col.overall.Requests
			window := now.Sub(lastT).Seconds()
			succ := 0.0
			if n > 0 {
				// Metrics keep the success count private until Close; the
				// status-code table has it.
				succ = successFromCodes(col.overall.StatusCodes) / float64(n) * 100
			}
			p99 := time.Duration(0)
			if n > 0 {
				p99 = col.overall.Latencies.Quantile(0.99)
			}
			fmt.Fprintf(a.progress, "%s  %5.0fs  %7.1f req/s  success %7.3f%%  p99 %8.3fms  %d requests\n",
				name, now.Sub(start).Seconds(), float64(n-lastN)/window, succ, ms(p99), n)
			lastN, lastT = n, now
		case <-done:
			atk.Stop()
			done = nil // keep draining until vegeta closes results
		}
	}
}

func successFromCodes(codes map[string]int) float64 {
	var ok int
	for code, n := range codes {
		if len(code) == 3 && (code[0] == '2' || code[0] == '3') {
			ok += n
		}
	}
	return float64(ok)
}
