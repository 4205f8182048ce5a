package cmd

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
)

// withRemote runs fn against the server named by --server; the tier's
// commands need its object store and workers, so they have no offline
// form.
func withRemote(cmd *cobra.Command, c *cli, fn func(context.Context, *admin.Remote) error) error {
	if err := checkOutput(c); err != nil {
		return err
	}
	v := c.v
	if v.GetString("server") == "" {
		return fmt.Errorf("%s needs a running server: pass --server URL (AKIDB_SERVER) and --api-key (AKIDB_API_KEY)", cmd.CommandPath())
	}
	r, err := admin.Dial(admin.RemoteConfig{
		Server: v.GetString("server"), APIKey: v.GetString("api-key"),
		CAFile: v.GetString("ca-cert"), CertFile: v.GetString("client-cert"), KeyFile: v.GetString("client-key"),
		Timeout: v.GetDuration("timeout"),
	})
	if err != nil {
		return err
	}
	defer r.Close()
	return fn(cmd.Context(), r)
}

func newDLQCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, retry and discard the object store's dead-letter queue (online)",
		Long: `The dead-letter queue holds the uploads and deletes to MinIO/S3 that failed. A
worker on the server retries the pending ones every --dlq-retry-interval with
back-off; after --dlq-max-retries failed retries an entry is permanent and waits
for an operator: "retry ID" tries it again now, "discard ID" drops it. "retry"
without an id retries the oldest pending entries now.

Needs a running server (--server URL, --api-key KEY or AKIDB_API_KEY): listing
is allowed to every role (a tenant's keys see their tenant's entries), retrying
and discarding to the operator. See docs/tiering.md.`,
		Args: cobra.NoArgs,
	}
	addAdminFlags(cmd)
	list := &cobra.Command{
		Use:   "list",
		Short: "List entries, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRemote(cmd, c, func(ctx context.Context, r *admin.Remote) error {
				page, err := r.ListDLQ(ctx, c.v.GetString("status"), c.v.GetString("cursor"), c.v.GetInt("limit"))
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, page)
				}
				return writeDLQ(c.st.Stdout, page)
			})
		},
	}
	list.Flags().String("status", "", "pending or permanent (default: both)")
	list.Flags().Int("limit", 0, "entries per page (default 100, at most 1000)")
	list.Flags().String("cursor", "", "the next_cursor of the previous page")
	retry := &cobra.Command{
		Use:   "retry [ID]",
		Short: "Retry one entry now (pending or permanent), or the oldest pending ones",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRemote(cmd, c, func(ctx context.Context, r *admin.Remote) error {
				var res access.DLQRetried
				var err error
				if len(args) == 1 {
					id, perr := parseDLQID(args[0])
					if perr != nil {
						return perr
					}
					res, err = r.RetryDLQEntry(ctx, id)
				} else {
					res, err = r.RetryDLQ(ctx)
				}
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, res)
				}
				fmt.Fprintf(c.st.Stdout, "attempted %d: %d succeeded (%d no longer needed), %d failed (%d now permanent), %d deferred (circuit breaker open)\n",
					res.Attempted, res.Succeeded, res.Obsolete, res.Failed, res.Permanent, res.Deferred)
				return nil
			})
		},
	}
	discard := &cobra.Command{
		Use:   "discard ID",
		Short: "Drop an entry without retrying it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseDLQID(args[0])
			if err != nil {
				return err
			}
			return withRemote(cmd, c, func(ctx context.Context, r *admin.Remote) error {
				res, err := r.DiscardDLQEntry(ctx, id)
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, res)
				}
				fmt.Fprintf(c.st.Stdout, "discarded DLQ entry %d\n", res.ID)
				return nil
			})
		},
	}
	cmd.AddCommand(list, retry, discard)
	return cmd
}

func parseDLQID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%q is not a DLQ entry id (a positive integer; see akidb dlq list)", s)
	}
	return id, nil
}

func writeDLQ(w io.Writer, page access.DLQPage) error {
	if len(page.Entries) == 0 {
		fmt.Fprintln(w, "the dead-letter queue is empty")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tTENANT\tCOLLECTION\tOPERATION\tKIND\tSEQ\tSIZE\tRETRIES\tNEXT_ATTEMPT\tKEY\tLAST_ERROR")
	for _, e := range page.Entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d-%d\t%d\t%d\t%s\t%s\t%s\n", e.ID, e.Status, e.TenantID, e.Collection, e.Operation, e.Kind,
			e.FirstSeq, e.LastSeq, e.Size, e.RetryCount, e.NextAttempt.Format(time.RFC3339), e.ObjectKey, clipText(e.LastError, 80))
	}
	if page.NextCursor != "" {
		fmt.Fprintf(tw, "(more: --cursor %s)\n", page.NextCursor)
	}
	return tw.Flush()
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func newCheckpointCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checkpoint NAME",
		Short: "Checkpoint a collection now on a running server (and queue its upload)",
		Long: `Ask a running server to checkpoint one of the caller's collections now: a
snapshot of its state is written and the log it makes unnecessary dropped (as
the retention allows). For a memory-s3 collection the snapshot's upload is
queued; "akidb storage status" follows it. Needs an admin key of the
collection's tenant.`,
		Example: `  akidb checkpoint --server http://127.0.0.1:8080 docs`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRemote(cmd, c, func(ctx context.Context, r *admin.Remote) error {
				res, err := r.Checkpoint(ctx, args[0])
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, res)
				}
				queued := ""
				if res.UploadQueued {
					queued = "; upload queued"
				}
				fmt.Fprintf(c.st.Stdout, "checkpointed %s: snapshot at sequence %d (policy %s%s)\n", res.Collection, res.SnapshotSeq, res.TierPolicy, queued)
				return nil
			})
		},
	}
	addAdminFlags(cmd)
	return cmd
}

func newLoadCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "load NAME",
		Short: "Load an evicted collection into memory now on a running server",
		Long: `Ask a running server to load one of the caller's collections into memory now
(from its local snapshot and log, or from the object store when the local copy
lacks them) and wait for it. Past the server's request timeout the answer is
503 collection_loading and the load goes on; run it again. A collection already
in memory is only marked used. Needs an admin key of the collection's tenant.`,
		Example: `  akidb load --server http://127.0.0.1:8080 docs`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRemote(cmd, c, func(ctx context.Context, r *admin.Remote) error {
				res, err := r.LoadCollection(ctx, args[0])
				return writeResidency(c, res, err)
			})
		},
	}
	addAdminFlags(cmd)
	return cmd
}

func newEvictCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evict NAME",
		Short: "Evict a memory-s3 or s3-only collection from memory now on a running server",
		Long: `Ask a running server to drop one of the caller's memory-s3 or s3-only
collections from memory now: it waits for the requests using it, checkpoints it
if anything changed, waits for the object store to confirm its upload, and
drops it; the next request loads it back. A memory collection is never evicted.
Needs an admin key of the collection's tenant.`,
		Example: `  akidb evict --server http://127.0.0.1:8080 docs`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRemote(cmd, c, func(ctx context.Context, r *admin.Remote) error {
				res, err := r.EvictCollection(ctx, args[0])
				return writeResidency(c, res, err)
			})
		},
	}
	addAdminFlags(cmd)
	return cmd
}

func writeResidency(c *cli, res api.ResidencyResponse, err error) error {
	if err != nil {
		return err
	}
	if jsonOutput(c) {
		return writeJSON(c.st.Stdout, res)
	}
	fmt.Fprintf(c.st.Stdout, "%s (%s): %s, %s in memory", res.Collection, res.TierPolicy, res.LoadState, byteSize(res.MemoryBytes))
	if res.LoadSource != "" {
		fmt.Fprintf(c.st.Stdout, "; last load from %s took %.2fs", res.LoadSource, res.LoadSeconds)
	}
	fmt.Fprintf(c.st.Stdout, "; %d loads, %d evictions\n", res.Loads, res.Evictions)
	return nil
}

// byteSize prints n bytes in binary units.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func newStorageCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "storage",
		Short: "Show the object storage tier's state, reset its circuit breaker (online)",
		Args:  cobra.NoArgs,
	}
	addAdminFlags(cmd)
	status := &cobra.Command{
		Use:   "status",
		Short: "The object store, its circuit breaker and each collection's shipping state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRemote(cmd, c, func(ctx context.Context, r *admin.Remote) error {
				st, err := r.StorageStatus(ctx)
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, st)
				}
				return writeStorageStatus(c.st.Stdout, st)
			})
		},
	}
	reset := &cobra.Command{
		Use:   "reset-breaker",
		Short: "Close the object store's circuit breaker now (operator)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRemote(cmd, c, func(ctx context.Context, r *admin.Remote) error {
				res, err := r.ResetBreaker(ctx)
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, res)
				}
				fmt.Fprintf(c.st.Stdout, "circuit breaker %s\n", res.CircuitBreaker.State)
				return nil
			})
		},
	}
	cmd.AddCommand(status, reset)
	return cmd
}

func writeStorageStatus(w io.Writer, st access.StorageStatus) error {
	if st.Store == nil {
		fmt.Fprintln(w, "object store: none (local only; start the server with --s3-endpoint to ship collections)")
	} else {
		b := st.Store.CircuitBreaker
		fmt.Fprintf(w, "object store: %s prefix %q, circuit breaker %s since %s (%d ok, %d failed, %d refused)\n",
			st.Store.Name, st.Store.Prefix, b.State, b.Since.Format(time.RFC3339), b.Successes, b.Failures, b.Rejected)
		if b.LastError != "" {
			fmt.Fprintf(w, "  last error: %s\n", clipText(b.LastError, 200))
		}
	}
	fmt.Fprintf(w, "dead-letter queue: %d pending, %d permanent\n", st.DLQ.Pending, st.DLQ.Permanent)
	m := st.Memory
	budget := "none"
	if m.BudgetBytes > 0 {
		budget = byteSize(m.BudgetBytes) + ", evict after " + (time.Duration(m.EvictAfterSeconds * float64(time.Second))).String() + " idle"
	}
	fmt.Fprintf(w, "memory: %d of %d collections in memory, %s; budget %s\n", m.ResidentCollections, m.Collections, byteSize(m.ResidentBytes), budget)
	if m.S3CacheLimitBytes >= 0 && st.Store != nil {
		fmt.Fprintf(w, "s3-only snapshot cache: %s of %s\n", byteSize(m.S3CacheBytes), byteSize(m.S3CacheLimitBytes))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tCOLLECTION\tPOLICY\tSTATE\tMEMORY\tLAST_USED\tDURABLE_SEQ\tSHIPPED_SEQ\tSHIP_LAG\tPENDING\tDLQ\tNEWEST_SNAPSHOT")
	var reasons []string
	for _, c := range st.Collections {
		snap := "-"
		if c.NewestSnapshot != nil {
			snap = strconv.FormatUint(c.NewestSnapshot.Seq, 10)
		}
		used := "-"
		if c.LastUsedAt != nil {
			used = c.LastUsedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\t%d/%d\t%s\n", c.Tenant, c.Name, c.TierPolicy, c.LoadState, byteSize(c.MemoryBytes), used,
			c.DurableSeq, c.ShippedSeq, (time.Duration(c.ShipLagSeconds * float64(time.Second))).Round(time.Millisecond), c.PendingUploads, c.DLQ.Pending, c.DLQ.Permanent, snap)
		if c.LoadReason != "" {
			reasons = append(reasons, fmt.Sprintf("%s/%s %s: %s", c.Tenant, c.Name, c.LoadState, clipText(c.LoadReason, 200)))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range reasons {
		fmt.Fprintln(w, r)
	}
	return nil
}
