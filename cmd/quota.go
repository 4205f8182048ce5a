package cmd

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/limits"
)

func newQuotaCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quota",
		Short: "Show and change tenant quotas and API key rate limits",
		Long: `Show and change a tenant's quota: its rate limit (qps_limit, burst) and its
maxima (max_collections, max_vectors, max_storage_bytes, max_disk_bytes),
beside what applies
now and, online, what the tenant uses. An API key may have a rate limit of its
own, applied beside its tenant's (the stricter wins): "akidb quota key".

Offline (the default) works on --data-dir while no server runs; usage is not
shown then (it needs the loaded collections), and the server's default maxima
(akidb serve --quota-max-*) are not known. Online, with --server URL and
--api-key KEY (or AKIDB_API_KEY), it asks the running server; a change applies
from the tenant's next request. Changing needs an operator key. See
docs/limits.md.`,
		Args: cobra.NoArgs,
	}
	addAdminFlags(cmd)
	cmd.AddCommand(newQuotaGetCommand(c), newQuotaSetCommand(c), newQuotaKeyCommand(c))
	return cmd
}

func newQuotaGetCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "get",
		Short:   "Show a tenant's quota, what applies and its usage",
		Example: `  akidb quota get --tenant acme --server http://127.0.0.1:8080 -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				q, err := a.GetQuota(ctx, c.v.GetString("tenant"))
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, q)
				}
				return writeQuota(c.st.Stdout, q)
			})
		},
	}
	cmd.Flags().String("tenant", "", "tenant id or name (required)")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}

// quotaFlags are the flags of `akidb quota set`, by the quota field they
// set.
var quotaFlags = []struct{ flag, field string }{
	{"qps", "qps_limit"},
	{"burst", "burst"},
	{"max-collections", "max_collections"},
	{"max-vectors", "max_vectors"},
	{"max-storage-bytes", "max_storage_bytes"},
	{"max-disk-bytes", "max_disk_bytes"},
}

func newQuotaSetCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Change a tenant's quota (the flags given; \"default\" returns a field to the server default)",
		Example: `  akidb quota set --tenant acme --qps 50 --max-vectors 1000000
  akidb quota set --tenant acme --max-storage-bytes 2GiB --burst default
  akidb quota set --tenant acme --max-disk-bytes 10GiB`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := quotaUpdateFromFlags(cmd)
			if err != nil {
				return err
			}
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				q, err := a.SetQuota(ctx, c.v.GetString("tenant"), u)
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, q)
				}
				return writeQuota(c.st.Stdout, q)
			})
		},
	}
	f := cmd.Flags()
	f.String("tenant", "", "tenant id or name (required)")
	f.String("qps", "", "requests per second, 1 to 10000, or \"default\"")
	f.String("burst", "", "token bucket size, 1 to 1000000, or \"default\" (qps × the default burst multiplier)")
	f.String("max-collections", "", "most collections, or \"default\"")
	f.String("max-vectors", "", "most live records over all collections, or \"default\"")
	f.String("max-storage-bytes", "", "most bytes of in-memory collection size (e.g. 536870912, 512MiB, 2GB), or \"default\"")
	f.String("max-disk-bytes", "", "most bytes of files (log segments and snapshots) over all collections (e.g. 10GiB), or \"default\"")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}

// quotaUpdateFromFlags turns the flags given into a partial update; at
// least one is needed. The server checks the ranges.
func quotaUpdateFromFlags(cmd *cobra.Command) (limits.QuotaUpdate, error) {
	var u limits.QuotaUpdate
	ints := map[string]*meta.Patch[int64]{"burst": &u.Burst, "max-collections": &u.MaxCollections,
		"max-vectors": &u.MaxVectors, "max-storage-bytes": &u.MaxStorageBytes, "max-disk-bytes": &u.MaxDiskBytes}
	for _, qf := range quotaFlags {
		if !cmd.Flags().Changed(qf.flag) {
			continue
		}
		raw, _ := cmd.Flags().GetString(qf.flag)
		raw = strings.TrimSpace(raw)
		isDefault := strings.EqualFold(raw, "default")
		if qf.flag == "qps" {
			if isDefault {
				u.QPSLimit = meta.SetNull[float64]()
				continue
			}
			v, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				return u, fmt.Errorf("--qps %q: want a number of requests per second or \"default\"", raw)
			}
			u.QPSLimit = meta.SetTo(v)
			continue
		}
		if isDefault {
			*ints[qf.flag] = meta.SetNull[int64]()
			continue
		}
		parse := func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
		if strings.HasSuffix(qf.flag, "-bytes") {
			parse = parseBytes
		}
		v, err := parse(raw)
		if err != nil {
			return u, fmt.Errorf("--%s %q: want a whole number or \"default\"", qf.flag, raw)
		}
		*ints[qf.flag] = meta.SetTo(v)
	}
	if u.Empty() {
		return u, fmt.Errorf("nothing to change: give at least one of --qps, --burst, --max-collections, --max-vectors, --max-storage-bytes, --max-disk-bytes")
	}
	return u, nil
}

// byteUnits are the suffixes parseBytes accepts, longest first.
var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
}

// parseBytes reads a byte count: a whole number with an optional unit
// (KiB, MiB, GiB, TiB, or KB, MB, GB, TB in powers of ten).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, factor = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return n, nil // the server refuses it with its own message
	}
	if n > (1<<63-1)/factor {
		return 0, fmt.Errorf("%s: too large", s)
	}
	return n * factor, nil
}

// writeQuota prints a quota as a table: stored, effective and used.
func writeQuota(w io.Writer, q access.TenantQuota) error {
	stored := func(v *int64) string {
		if v == nil {
			return "default"
		}
		return strconv.FormatInt(*v, 10)
	}
	maxOf := func(v *int64) string {
		if v == nil {
			return "unlimited"
		}
		return strconv.FormatInt(*v, 10)
	}
	storedQPS := "default"
	if q.Quota.QPSLimit != nil {
		storedQPS = strconv.FormatFloat(*q.Quota.QPSLimit, 'g', -1, 64)
	}
	used := func(f func(limits.Usage) int64) string {
		if q.Usage == nil {
			return "-"
		}
		return strconv.FormatInt(f(*q.Usage), 10)
	}
	fmt.Fprintf(w, "tenant %s\n", q.TenantID)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tSTORED\tEFFECTIVE\tUSAGE")
	fmt.Fprintf(tw, "qps_limit\t%s\t%s\t-\n", storedQPS, strconv.FormatFloat(q.Effective.QPS, 'g', -1, 64))
	fmt.Fprintf(tw, "burst\t%s\t%d\t-\n", stored(q.Quota.Burst), q.Effective.Burst)
	fmt.Fprintf(tw, "max_collections\t%s\t%s\t%s\n", stored(q.Quota.MaxCollections), maxOf(q.Effective.MaxCollections),
		used(func(u limits.Usage) int64 { return u.Collections }))
	fmt.Fprintf(tw, "max_vectors\t%s\t%s\t%s\n", stored(q.Quota.MaxVectors), maxOf(q.Effective.MaxVectors),
		used(func(u limits.Usage) int64 { return u.Vectors }))
	fmt.Fprintf(tw, "max_storage_bytes\t%s\t%s\t%s\n", stored(q.Quota.MaxStorageBytes), maxOf(q.Effective.MaxStorageBytes),
		used(func(u limits.Usage) int64 { return u.StorageBytes }))
	fmt.Fprintf(tw, "max_disk_bytes\t%s\t%s\t%s\n", stored(q.Quota.MaxDiskBytes), maxOf(q.Effective.MaxDiskBytes),
		used(func(u limits.Usage) int64 { return u.DiskBytes }))
	if err := tw.Flush(); err != nil {
		return err
	}
	state := "on"
	if !q.Effective.RateLimitEnabled {
		state = "OFF (server-wide; the rates above are not enforced)"
	}
	fmt.Fprintf(w, "rate limiting: %s\n", state)
	if q.Quota.UpdatedAt != nil {
		fmt.Fprintf(w, "updated: %s\n", q.Quota.UpdatedAt.Format(time.RFC3339))
	}
	if q.Usage == nil {
		fmt.Fprintln(w, "usage: not shown offline; ask the running server with --server")
	}
	return nil
}

func newQuotaKeyCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Show, set or clear an API key's own rate limit",
		Long: `An API key may have a rate limit of its own, lower than its tenant's: a request
with the key needs a token from both buckets, so the stricter wins. A key
without one passes its tenant's bucket only.`,
		Args: cobra.NoArgs,
	}
	get := &cobra.Command{
		Use:   "get KEY-ID",
		Short: "Show an API key's own rate limit",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				k, err := a.GetKeyRate(ctx, keyID(args[0]))
				if err != nil {
					return err
				}
				return writeKeyRate(c, k)
			})
		},
	}
	set := &cobra.Command{
		Use:     "set KEY-ID",
		Short:   "Give an API key a rate limit of its own",
		Example: `  akidb quota key set 7k2m4q5xw3bzp6ad --qps 5 --burst 10`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u := limits.KeyRateUpdate{QPSLimit: c.v.GetFloat64("qps")}
			if cmd.Flags().Changed("burst") {
				b := c.v.GetInt64("burst")
				u.Burst = &b
			}
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				k, err := a.SetKeyRate(ctx, keyID(args[0]), u)
				if err != nil {
					return err
				}
				return writeKeyRate(c, k)
			})
		},
	}
	set.Flags().Float64("qps", 0, "requests per second, 1 to 10000 (required)")
	set.Flags().Int64("burst", 0, "token bucket size, 1 to 1000000 (default: qps × the default burst multiplier)")
	_ = set.MarkFlagRequired("qps")
	clr := &cobra.Command{
		Use:   "clear KEY-ID",
		Short: "Remove an API key's own rate limit",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				r, err := a.ClearKeyRate(ctx, keyID(args[0]))
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, r)
				}
				fmt.Fprintf(c.st.Stdout, "API key %s has no rate limit of its own any more\n", r.KeyID)
				return nil
			})
		},
	}
	cmd.AddCommand(get, set, clr)
	return cmd
}

func writeKeyRate(c *cli, k access.KeyRateLimit) error {
	if jsonOutput(c) {
		return writeJSON(c.st.Stdout, k)
	}
	fmt.Fprintf(c.st.Stdout, "API key %s (tenant %s): %g requests/s, burst %d\n", k.KeyID, k.TenantID, k.QPSLimit, k.EffectiveBurst)
	return nil
}
