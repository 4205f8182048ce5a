package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/admin"
)

func newHealthCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Ask a server whether it is ready (exit 0 when /readyz answers 200)",
		Long: `Ask a running server's readiness probe, for container health checks, exec
probes and scripts. It sends GET <url>/readyz without credentials (probes need
none) and exits 0 when the answer is 200, 1 otherwise (still recovering,
shutting down, refused, TLS failure or timeout), printing what it got.

--url may also name another probe: --url http://127.0.0.1:8080/livez.
Over TLS, --ca-cert trusts a CA other than the system roots, --tls-server-name
checks the certificate against a name other than the URL's host (a
certificate for db.example probed at https://127.0.0.1:8080), and
--client-cert/--client-key answer a server that requires mutual TLS.`,
		Example: `  akidb health
  akidb health --url https://127.0.0.1:8080 --ca-cert /etc/akidb/tls/ca.crt --tls-server-name db.example`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := c.v
			res, err := admin.Health(cmd.Context(), admin.HealthConfig{
				URL: v.GetString("url"), CAFile: v.GetString("ca-cert"), CertFile: v.GetString("client-cert"),
				KeyFile: v.GetString("client-key"), ServerName: v.GetString("tls-server-name"), Timeout: v.GetDuration("timeout"),
			})
			if err != nil {
				return err
			}
			if !res.OK() {
				fmt.Fprintf(c.st.Stderr, "akidb: %s answered %d: %s\n", res.URL, res.Status, res.Body)
				return &exitError{code: 1}
			}
			_, err = fmt.Fprintf(c.st.Stdout, "%s: %d %s\n", res.URL, res.Status, res.Body)
			return err
		},
	}
	f := cmd.Flags()
	f.String("url", "http://127.0.0.1:8080", "the server's REST base URL, or a probe's URL")
	f.String("ca-cert", "", "PEM CA bundle to trust for the server's certificate")
	f.String("client-cert", "", "PEM client certificate, for a server that requires mTLS")
	f.String("client-key", "", "PEM key of --client-cert")
	f.String("tls-server-name", "", "name to check the server's certificate against (default: the URL's host)")
	f.Duration("timeout", 0, "how long to wait for the answer (default 5s)")
	return cmd
}
