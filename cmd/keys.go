package cmd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/auth"
)

func newKeysCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list, revoke and rotate API keys",
		Long: `Manage API keys. A key is ak_<id>_<secret>; the server keeps only a hash of the
secret, so a key is shown once, when it is created or rotated.

Offline (the default) works on --data-dir while no server runs (it refuses,
naming the server's pid, when one does). Online, with --server URL and
--api-key KEY (or AKIDB_API_KEY), it asks the running server, which checks the
key's rights and audits the change; a revocation holds from the next request.`,
		Args: cobra.NoArgs,
	}
	addAdminFlags(cmd)
	cmd.AddCommand(newKeysCreateCommand(c), newKeysListCommand(c), newKeysRevokeCommand(c), newKeysRotateCommand(c), newKeysGenerateCommand(c))
	return cmd
}

func newKeysGenerateCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "generate",
		Short: "Print a new API key that is stored nowhere, for --bootstrap-admin-key-file",
		Long: `Print a new, well-formed API key without storing it anywhere. Put it in a
secret store (a Kubernetes Secret, a file readable only by the server) and
start the server of a new data directory with --bootstrap-admin-key-file: the
key becomes that directory's first admin key, and the server neither prints
nor saves it. The key is only a key once a server has imported it.`,
		Example: `  akidb keys generate > bootstrap-admin.key
  kubectl create secret generic akidb-bootstrap --from-file=bootstrap-admin.key`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			key, err := auth.GenerateKey()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.st.Stdout, key.Reveal())
			return err
		},
	}
}

func newKeysCreateCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API key (printed once)",
		Example: `  akidb keys create --role writer --name ingest
  akidb keys create --tenant acme --role reader --collections docs,faq --expires-in 720h
  akidb keys create --server http://127.0.0.1:8080 --role reader -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := c.v
			var expires string
			if d := v.GetDuration("expires-in"); d > 0 {
				expires = d.String()
			} else if d < 0 {
				return fmt.Errorf("--expires-in must not be negative")
			}
			req := access.CreateKeyRequest{Tenant: v.GetString("tenant"), Role: v.GetString("role"), Name: v.GetString("name"),
				Collections: splitList(v.GetString("collections")), ExpiresIn: expires}
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				k, err := a.CreateKey(ctx, req)
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, k)
				}
				fmt.Fprintf(c.st.Stdout, "created API key %s (tenant %s, role %s%s)\n\n    %s\n\n", k.ID, k.TenantID, k.Role, keyExtras(k.KeyInfo), k.Key)
				fmt.Fprintln(c.st.Stdout, "Store it now: it is shown only this once.")
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.String("tenant", "", "tenant id or name (default: the caller's; offline: default)")
	f.String("role", "", "admin, writer or reader (required)")
	f.String("name", "", "a name to recognise the key by")
	f.String("collections", "", "comma-separated collections the key is limited to (default: all of the tenant's)")
	f.Duration("expires-in", 0, "lifetime, e.g. 720h (default: never expires)")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newKeysListCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				keys, err := a.ListKeys(ctx, c.v.GetString("tenant"))
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					if keys == nil {
						keys = []auth.KeyInfo{}
					}
					return writeJSON(c.st.Stdout, access.KeyList{Keys: keys})
				}
				writeKeyTable(c.st.Stdout, keys, time.Now())
				return nil
			})
		},
	}
	cmd.Flags().String("tenant", "", "tenant id or name (default: the caller's; an operator and offline: every tenant)")
	return cmd
}

func newKeysRevokeCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke KEY-ID",
		Short: "Revoke an API key and its tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				k, err := a.RevokeKey(ctx, keyID(args[0]))
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, k)
				}
				fmt.Fprintf(c.st.Stdout, "revoked API key %s (tenant %s, role %s) at %s\n", k.ID, k.TenantID, k.Role, k.RevokedAt.Format(time.RFC3339))
				return nil
			})
		},
	}
}

func newKeysRotateCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rotate KEY-ID",
		Short:   "Replace an API key by a new one (printed once); the old one works for --overlap",
		Example: `  akidb keys rotate 7k2m4q5xw3bzp6ad --overlap 24h`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			overlap := c.v.GetDuration("overlap")
			if overlap < 0 {
				return fmt.Errorf("--overlap must not be negative")
			}
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				r, err := a.RotateKey(ctx, keyID(args[0]), overlap)
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, r)
				}
				when := "it is revoked now"
				if r.Old.RevokedAt.IsZero() && !r.Old.ExpiresAt.IsZero() {
					when = "it keeps working until " + r.Old.ExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintf(c.st.Stdout, "rotated API key %s: %s\nnew API key %s (tenant %s, role %s%s)\n\n    %s\n\n",
					r.Old.ID, when, r.New.ID, r.New.TenantID, r.New.Role, keyExtras(r.New.KeyInfo), r.New.Key)
				fmt.Fprintln(c.st.Stdout, "Store it now: it is shown only this once.")
				return nil
			})
		},
	}
	cmd.Flags().Duration("overlap", 0, "how long the old key keeps working, e.g. 24h (default 0: revoked at once)")
	return cmd
}

// keyID accepts a key id, or a whole key (whose id is its public part),
// so a user can paste what they have.
func keyID(s string) string {
	if id := auth.APIKey(s).ID(); id != "" {
		return id
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// keyExtras describes a key's name, collections and expiry for one line.
func keyExtras(k auth.KeyInfo) string {
	var b strings.Builder
	if k.Name != "" {
		fmt.Fprintf(&b, ", name %q", k.Name)
	}
	if len(k.Collections) > 0 {
		fmt.Fprintf(&b, ", collections %s", strings.Join(k.Collections, ","))
	}
	if !k.ExpiresAt.IsZero() {
		fmt.Fprintf(&b, ", expires %s", k.ExpiresAt.Format(time.RFC3339))
	}
	return b.String()
}

func writeKeyTable(w io.Writer, keys []auth.KeyInfo, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tROLE\tNAME\tCOLLECTIONS\tCREATED\tEXPIRES\tSTATE")
	for _, k := range keys {
		cols := "*"
		if len(k.Collections) > 0 {
			cols = strings.Join(k.Collections, ",")
		}
		expires := "never"
		if !k.ExpiresAt.IsZero() {
			expires = k.ExpiresAt.Format(time.RFC3339)
		}
		state := "live"
		switch {
		case !k.RevokedAt.IsZero() && !now.Before(k.RevokedAt):
			state = "revoked"
		case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
			state = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.TenantID, k.Role, dash(k.Name), cols,
			k.CreatedAt.Format(time.RFC3339), expires, state)
	}
	_ = tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
