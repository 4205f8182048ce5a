// Package top is `akidb top`: a terminal UI (Bubble Tea, bubbles,
// lipgloss) over a running server, and its one-shot forms (--once, --once
// --output json).
//
// It talks to the server only, through the admin client (admin.Remote,
// shared with `akidb keys`, `quota`, `dlq`, `storage`): GET /readyz and
// the Prometheus exposition (/admin/metrics with an operator's key, else
// /metrics; parsed with prometheus/common/expfmt), GET
// /admin/storage/status and, while it holds entries, GET /admin/dlq; the
// tenants' names (GET /admin/tenants, audited as tenant.manage) at start
// and at most every namesEvery when an unknown tenant id shows up. It
// never opens the data directory (cmd reads the bootstrap key file, that
// is all).
//
// The pieces, one job each:
//
//   - client.go: Client, what top needs of a server (*admin.Remote is one;
//     tests pass a fake).
//   - scrape.go: Scraper, one refresh: which endpoints to ask, and which
//     to stop asking (a refused key, a forbidden or missing route is
//     asked once: every refusal is an audit row on the server).
//   - series.go, ops.go: reading the metric families (histograms merged
//     by operation, counters summed by label).
//   - history.go: the points kept for rates, latency quantiles over a
//     window and sparklines.
//   - snapshot.go: Snapshot, the model's data: what every view renders
//     and what --once --output json prints.
//   - model.go, update.go, keys.go: the Bubble Tea model: panes, focus,
//     cursor, filter, confirmations, pause, help, polling.
//   - view.go, panes.go, styles.go: rendering, at any size (tabs below
//     gridWidth x gridHeight, every pane at once above).
//   - once.go, run.go: the entry points cmd/top.go calls.
//
// Polling never overlaps: the next refresh is scheduled --interval after
// the previous one ends (so a slow server is asked less often), and after
// a failure with a doubling back-off up to maxBackoff. Rates are over the
// last interval, latency quantiles over the last quantileWindow (the
// histograms' deltas, as Prometheus' histogram_quantile computes them).
package top
