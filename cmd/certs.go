package cmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/serve/tlsconf"
)

func newCertsCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Certificates for trying TLS",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCertsDevCommand(c))
	return cmd
}

func newCertsDevCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Write a throwaway CA, server and client certificate (NOT for production)",
		Long: `Write a throwaway certificate set for trying TLS and mutual TLS on one machine:
ca.crt, server.crt/server.key (for localhost, 127.0.0.1 and ::1, or --host)
and client.crt/client.key, valid for 30 days. Existing files are never
overwritten.

THESE ARE NOT FOR PRODUCTION: the CA is self-signed and trusted by nothing
else, its key is thrown away, nothing is revoked or renewed, and anyone who
can read the directory can impersonate the server or a client. Use
certificates from your own CA, cert-manager or ACME in production.`,
		Example: `  akidb certs dev                 # into ./dev-certs
  akidb certs dev --out /tmp/akidb-certs
  akidb serve --tls-cert dev-certs/server.crt --tls-key dev-certs/server.key --tls-client-ca dev-certs/ca.crt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := c.v.GetString("out")
			if out == "" {
				return fmt.Errorf("--out must not be empty")
			}
			hosts, err := cmd.Flags().GetStringSlice("host")
			if err != nil {
				return err
			}
			dc, err := tlsconf.WriteDevCerts(out, time.Now(), hosts)
			if err != nil {
				return err
			}
			w := c.st.Stdout
			fmt.Fprintf(w, "wrote development certificates (NOT for production), valid until %s:\n", dc.NotAfter.Format(time.RFC3339))
			fmt.Fprintf(w, "  CA:     %s\n  server: %s %s\n  client: %s %s\n\n", dc.CAFile, dc.ServerCertFile, dc.ServerKeyFile, dc.ClientCertFile, dc.ClientKeyFile)
			fmt.Fprintf(w, "serve with TLS:   akidb serve --tls-cert %s --tls-key %s\n", dc.ServerCertFile, dc.ServerKeyFile)
			fmt.Fprintf(w, "  and mutual TLS: add --tls-client-ca %s\n", dc.CAFile)
			fmt.Fprintf(w, "call it:          curl --cacert %s --cert %s --key %s https://127.0.0.1:8080/livez\n", dc.CAFile, dc.ClientCertFile, dc.ClientKeyFile)
			return nil
		},
	}
	cmd.Flags().String("out", "dev-certs", "directory to write into (created 0700 if missing)")
	cmd.Flags().StringSlice("host", nil, "host names and IPs of the server certificate (default localhost,127.0.0.1,::1)")
	return cmd
}
