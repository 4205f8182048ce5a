package cmd

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/limits"
)

func newConfigCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the server's effective configuration and change the rate limit defaults",
		Long: `Show the effective configuration (never a secret) and change the runtime
settings: the rate limit defaults, which apply to every tenant without a rate
of its own. A change is persisted in the data directory and applies from the
next request, without a restart.

Offline (the default) works on --data-dir while no server runs (the server's
own settings are not shown then). Online, with --server URL and --api-key KEY
(or AKIDB_API_KEY), it asks the running server. Both need an operator key
online. See docs/limits.md.`,
		Args: cobra.NoArgs,
	}
	addAdminFlags(cmd)
	get := &cobra.Command{
		Use:   "get",
		Short: "Show the effective configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				cfg, err := a.GetConfig(ctx)
				if err != nil {
					return err
				}
				return writeConfig(c, cfg)
			})
		},
	}
	set := &cobra.Command{
		Use:   "set",
		Short: "Change the rate limit defaults (the flags given)",
		Example: `  akidb config set --default-qps 200 --default-burst-multiplier 3
  akidb config set --rate-limiting=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var u limits.RateLimitUpdate
			f := cmd.Flags()
			if f.Changed("rate-limiting") {
				v, _ := f.GetBool("rate-limiting")
				u.Enabled = &v
			}
			if f.Changed("default-qps") {
				v, _ := f.GetFloat64("default-qps")
				u.DefaultQPS = &v
			}
			if f.Changed("default-burst-multiplier") {
				v, _ := f.GetFloat64("default-burst-multiplier")
				u.DefaultBurstMultiplier = &v
			}
			if u == (limits.RateLimitUpdate{}) {
				return fmt.Errorf("nothing to change: give at least one of --default-qps, --default-burst-multiplier, --rate-limiting")
			}
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				cfg, err := a.SetRateLimit(ctx, u)
				if err != nil {
					return err
				}
				return writeConfig(c, cfg)
			})
		},
	}
	sf := set.Flags()
	sf.Float64("default-qps", 0, "requests per second of tenants without a rate of their own, 1 to 10000")
	sf.Float64("default-burst-multiplier", 0, "a bucket's size, when not set, is its rate times this, rounded up; 1 to 100")
	sf.Bool("rate-limiting", true, "false turns all rate limiting off (tenants' and keys' own rates too)")
	cmd.AddCommand(get, set)
	return cmd
}

// writeConfig prints the configuration as JSON or as key-value lines.
func writeConfig(c *cli, cfg access.RuntimeConfig) error {
	if jsonOutput(c) {
		return writeJSON(c.st.Stdout, cfg)
	}
	return writeConfigText(c.st.Stdout, cfg)
}

func writeConfigText(w io.Writer, cfg access.RuntimeConfig) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	maxOf := func(v *int64) string {
		if v == nil {
			return "unlimited"
		}
		return strconv.FormatInt(*v, 10)
	}
	rl := cfg.RateLimiting
	fmt.Fprintf(tw, "rate_limiting.enabled\t%t\n", rl.Enabled)
	fmt.Fprintf(tw, "rate_limiting.default_qps\t%s\n", num(rl.DefaultQPS))
	fmt.Fprintf(tw, "rate_limiting.default_burst_multiplier\t%s\n", num(rl.DefaultBurstMultiplier))
	qd := cfg.QuotaDefaults
	fmt.Fprintf(tw, "quota_defaults.max_collections\t%s\n", maxOf(qd.MaxCollections))
	fmt.Fprintf(tw, "quota_defaults.max_vectors\t%s\n", maxOf(qd.MaxVectors))
	fmt.Fprintf(tw, "quota_defaults.max_storage_bytes\t%s\n", maxOf(qd.MaxStorageBytes))
	fmt.Fprintf(tw, "quota_defaults.max_disk_bytes\t%s\n", maxOf(qd.MaxDiskBytes))
	if s := cfg.Server; s != nil {
		mem := "none"
		if s.MemoryLimitBytes != nil {
			mem = strconv.FormatInt(*s.MemoryLimitBytes, 10)
			if s.MemoryLimitSource != "" {
				mem += " (from " + s.MemoryLimitSource + ")"
			}
		}
		fmt.Fprintf(tw, "server.version\t%s\n", s.Version)
		fmt.Fprintf(tw, "server.auth_enabled\t%t\n", s.AuthEnabled)
		fmt.Fprintf(tw, "server.tls_enabled\t%t\n", s.TLSEnabled)
		fmt.Fprintf(tw, "server.rest_addr\t%s\n", s.RESTAddr)
		fmt.Fprintf(tw, "server.grpc_addr\t%s\n", s.GRPCAddr)
		fmt.Fprintf(tw, "server.max_in_flight\t%d\n", s.MaxInFlight)
		fmt.Fprintf(tw, "server.in_flight\t%d\n", s.InFlight)
		fmt.Fprintf(tw, "server.request_timeout_seconds\t%s\n", num(s.RequestTimeoutSeconds))
		fmt.Fprintf(tw, "server.tenant_in_flight_share\t%s\n", num(s.TenantInFlightShare))
		fmt.Fprintf(tw, "server.tenant_max_in_flight\t%d\n", s.TenantMaxInFlight)
		fmt.Fprintf(tw, "server.body_timeout_seconds\t%s\n", num(s.BodyTimeoutSeconds))
		fmt.Fprintf(tw, "server.max_inflight_body_bytes\t%d\n", s.MaxInflightBodyBytes)
		fmt.Fprintf(tw, "server.inflight_body_bytes\t%d\n", s.InflightBodyBytes)
		fmt.Fprintf(tw, "server.max_response_bytes\t%d\n", s.MaxResponseBytes)
		fmt.Fprintf(tw, "server.memory_limit_bytes\t%s\n", mem)
		l := s.RequestLimits
		for _, kv := range []struct {
			k string
			v int64
		}{{"max_batch", int64(l.MaxBatch)}, {"max_k", int64(l.MaxK)}, {"max_ef", int64(l.MaxEf)}, {"max_id_bytes", int64(l.MaxIDBytes)},
			{"max_metadata_bytes", int64(l.MaxMetadataBytes)}, {"max_dimension", int64(l.MaxDimension)}, {"max_body_bytes", l.MaxBodyBytes},
			{"max_delete_ids", int64(l.MaxDeleteIDs)}, {"max_scroll_limit", int64(l.MaxScrollLimit)}} {
			fmt.Fprintf(tw, "server.request_limits.%s\t%d\n", kv.k, kv.v)
		}
	} else {
		fmt.Fprintln(tw, "server\t(not running: offline)")
	}
	return tw.Flush()
}
