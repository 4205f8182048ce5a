package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/admin"
)

// Flags and plumbing shared by `akidb keys` and `akidb tenants`: they work
// offline on --data-dir, or online against --server with --api-key.

func addAdminFlags(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.String("data-dir", "./akidb-data", "offline: the data directory (no server may have it open)")
	pf.String("server", "", "online: the server's REST URL, e.g. http://127.0.0.1:8080 (AKIDB_SERVER)")
	addAPIKeyFlags(pf, "online: an admin API key or token (AKIDB_API_KEY)")
	pf.String("ca-cert", "", "online: PEM CA bundle to trust for the server's certificate")
	pf.String("client-cert", "", "online: PEM client certificate, for a server that requires mTLS")
	pf.String("client-key", "", "online: PEM key of --client-cert")
	pf.Duration("timeout", 0, "online: per-request timeout (default 30s)")
	pf.StringP("output", "o", "text", "output format: text or json")
}

// openAdmin connects to the server (--server) or opens the data
// directory.
func openAdmin(ctx context.Context, c *cli, cmd *cobra.Command) (admin.Admin, error) {
	if err := checkOutput(c); err != nil {
		return nil, err
	}
	v := c.v
	if server := v.GetString("server"); server != "" {
		key, err := apiKey(c, cmd)
		if err != nil {
			return nil, err
		}
		return admin.Dial(admin.RemoteConfig{
			Server: server, APIKey: key,
			CAFile: v.GetString("ca-cert"), CertFile: v.GetString("client-cert"), KeyFile: v.GetString("client-key"),
			Timeout: v.GetDuration("timeout"),
		})
	}
	return admin.OpenLocal(ctx, admin.LocalConfig{DataDir: v.GetString("data-dir"), Logger: c.logger})
}

// withAdmin runs fn with an open Admin and closes it.
func withAdmin(cmd *cobra.Command, c *cli, fn func(context.Context, admin.Admin) error) (err error) {
	ctx := cmd.Context()
	a, err := openAdmin(ctx, c, cmd)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := a.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	return fn(ctx, a)
}

func checkOutput(c *cli) error {
	switch o := c.v.GetString("output"); o {
	case "text", "json":
		return nil
	default:
		return fmt.Errorf("--output %q: want text or json", o)
	}
}

func jsonOutput(c *cli) bool { return c.v.GetString("output") == "json" }

// writeJSON prints v indented.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
