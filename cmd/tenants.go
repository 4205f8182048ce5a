package cmd

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/serve/access"
)

func newTenantsCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenants",
		Short: "Create, list and delete tenants",
		Long: `Manage tenants. Every request acts for the tenant of its credential; collections
belong to a tenant and their names are unique within it. The "default" tenant
always exists. Online (--server, --api-key) this needs an operator key: an
unrestricted admin key of the default tenant, such as the bootstrap key.
Offline it works on --data-dir while no server runs.`,
		Args: cobra.NoArgs,
	}
	addAdminFlags(cmd)
	cmd.AddCommand(newTenantsCreateCommand(c), newTenantsListCommand(c), newTenantsDeleteCommand(c))
	return cmd
}

func newTenantsCreateCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Create a tenant",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				t, err := a.CreateTenant(ctx, args[0])
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, t)
				}
				fmt.Fprintf(c.st.Stdout, "created tenant %s (id %s)\n", t.Name, t.ID)
				return nil
			})
		},
	}
}

func newTenantsListCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				list, err := a.ListTenants(ctx)
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					if list == nil {
						list = []access.Tenant{}
					}
					return writeJSON(c.st.Stdout, access.TenantList{Tenants: list})
				}
				tw := tabwriter.NewWriter(c.st.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tCREATED")
				for _, t := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, t.Name, t.CreatedAt.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
}

func newTenantsDeleteCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete TENANT",
		Short: "Delete a tenant (by id or name) and its API keys",
		Long: `Delete a tenant and its API keys. A tenant that still has collections is
refused unless --force, which drops its collections (and their data) first;
--force needs a running server (--server).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, c, func(ctx context.Context, a admin.Admin) error {
				res, err := a.DeleteTenant(ctx, args[0], c.v.GetBool("force"))
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, res)
				}
				fmt.Fprintf(c.st.Stdout, "deleted tenant %s", res.ID)
				if len(res.DroppedCollections) > 0 {
					fmt.Fprintf(c.st.Stdout, " and its collections %s", strings.Join(res.DroppedCollections, ", "))
				}
				fmt.Fprintln(c.st.Stdout)
				return nil
			})
		},
	}
	cmd.Flags().Bool("force", false, "drop the tenant's collections first")
	return cmd
}
