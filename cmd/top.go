package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/admin/top"
	"github.com/akidb/akidb/serve/auth"
)

func newTopCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Watch a running server in the terminal: traffic, tenants' limits, the storage tier, its breaker and DLQ",
		Long: `A live view of a running server, like top for a process: its vital signs
(version, uptime, readiness, memory, collections, vectors, index backlog, log
size and fsync p99, last checkpoint); requests/s and p50/p99 latency by
operation with a sparkline of the last minutes, and the 4xx/429/503 counts;
each tenant's rate limit and quota use; the object store's circuit breaker,
shipping and lag; and the dead-letter queue, which it can retry (r, R) and
discard (d), and the breaker, which it can reset (b). ? shows every key.

It talks to the server only (GET /readyz, /metrics or with an operator's key
/admin/metrics, /admin/storage/status, /admin/dlq), every --interval after the
previous refresh ended. Without --api-key, --api-key-file or AKIDB_API_KEY it
uses the bootstrap admin key in --data-dir (./akidb-data) when that file is
readable, and says so; with no key at all it shows what needs none. A pane
its key may not read says so ("needs admin"), as does a pane an older server
cannot fill.

--once prints one plain-text frame of every pane (two refreshes --interval
apart, so the rates are filled in) and --once --output json the same as
JSON, for scripts; both exit 1 when the server does not answer. See
docs/top.md.`,
		Example: `  akidb top
  akidb top --server https://db.example:8080 --ca-cert ca.crt --api-key-file admin.key
  akidb top --once --output json | jq .storage.stores`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTop(cmd, c) },
	}
	f := cmd.Flags()
	f.String("server", "http://127.0.0.1:8080", "the server's REST URL (AKIDB_SERVER)")
	addAPIKeyFlags(f, "an API key or token (AKIDB_API_KEY); without one, the bootstrap admin key file of --data-dir if readable")
	f.String("data-dir", "./akidb-data", "where the bootstrap admin key is looked for when no key is given (only that file is read)")
	f.String("ca-cert", "", "PEM CA bundle to trust for the server's certificate (also --ca)")
	f.String("client-cert", "", "PEM client certificate, for a server that requires mTLS (also --cert)")
	f.String("client-key", "", "PEM key of --client-cert (also --key)")
	f.Duration("interval", top.DefaultInterval, "pause between the end of one refresh and the start of the next")
	f.Duration("timeout", top.DefaultTimeout, "bound on one refresh")
	f.Bool("once", false, "print one snapshot and exit (two refreshes --interval apart)")
	f.StringP("output", "o", "text", "with --once: text or json")
	// The short names the issue and other tools use for the TLS files.
	f.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		switch name {
		case "ca":
			name = "ca-cert"
		case "cert":
			name = "client-cert"
		case "key":
			name = "client-key"
		}
		return pflag.NormalizedName(name)
	})
	return cmd
}

// Bounds of --interval: faster costs the server for nothing a person can
// read; slower is no longer live.
const (
	minTopInterval = 100 * time.Millisecond
	maxTopInterval = time.Hour
)

func runTop(cmd *cobra.Command, c *cli) error {
	v := c.v
	once, output := v.GetBool("once"), v.GetString("output")
	if err := checkOutput(c); err != nil {
		return err
	}
	if output == "json" && !once {
		return errors.New("--output json needs --once (the live view draws on a terminal)")
	}
	interval := v.GetDuration("interval")
	if interval < minTopInterval || interval > maxTopInterval {
		return fmt.Errorf("--interval %s: want between %s and %s", interval, minTopInterval, maxTopInterval)
	}
	width, tty := terminalWidth(c.st)
	if !once && !tty {
		return errors.New("akidb top draws on a terminal and this output is not one: use --once (or --once --output json) in scripts")
	}
	key, err := apiKey(c, cmd)
	if err != nil {
		return err
	}
	opts := top.Options{Server: strings.TrimRight(v.GetString("server"), "/"), Interval: interval, Timeout: v.GetDuration("timeout")}
	if key == "" {
		key, opts.KeySource, opts.Notice = bootstrapKeyOf(v.GetString("data-dir"))
	}
	opts.HasKey = key != ""
	client, err := admin.Dial(admin.RemoteConfig{
		Server: opts.Server, APIKey: key, AllowNoKey: true, Timeout: opts.Timeout,
		CAFile: v.GetString("ca-cert"), CertFile: v.GetString("client-cert"), KeyFile: v.GetString("client-key"),
	})
	if err != nil {
		return err
	}
	defer client.Close()
	opts.Client = client
	if once {
		// A plain-text frame has no colour; JSON has none to begin with.
		opts.Renderer = lipgloss.NewRenderer(c.st.Stdout)
		opts.Renderer.SetColorProfile(termenv.Ascii)
		if width <= 0 {
			width = 120
		}
		if opts.Notice != "" {
			fmt.Fprintf(c.st.Stderr, "akidb: %s\n", opts.Notice)
		}
		return top.RunOnce(cmd.Context(), opts, c.st.Stdout, output == "json", width)
	}
	opts.Renderer = lipgloss.NewRenderer(c.st.Stdout, termenv.WithEnvironment(stateEnviron{c.st}))
	return top.Run(cmd.Context(), opts, c.st.Stdin, c.st.Stdout)
}

// bootstrapKeyOf reads the bootstrap admin key of dataDir, if there is one:
// the key, where it came from, or why a file that is there could not be
// used.
func bootstrapKeyOf(dataDir string) (key, source, notice string) {
	path := filepath.Join(dataDir, auth.SecretsDir, auth.BootstrapKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", "", ""
	case err != nil:
		return "", "", fmt.Sprintf("no API key: the bootstrap key file could not be read (%v); showing what needs none", err)
	}
	if key = strings.TrimSpace(string(b)); key == "" {
		return "", "", fmt.Sprintf("no API key: the bootstrap key file %s is empty; showing what needs none", path)
	}
	return key, "the bootstrap admin key in " + path, ""
}

// terminalWidth is stdout's width when it and stdin are a terminal.
func terminalWidth(st *State) (int, bool) {
	out, ok1 := st.Stdout.(*os.File)
	in, ok2 := st.Stdin.(*os.File)
	if !ok1 || !ok2 || !term.IsTerminal(int(out.Fd())) || !term.IsTerminal(int(in.Fd())) {
		return 0, false
	}
	w, _, err := term.GetSize(int(out.Fd()))
	if err != nil {
		return 0, true
	}
	return w, true
}

// stateEnviron gives termenv the CLI state's environment (NO_COLOR,
// CLICOLOR, TERM).
type stateEnviron struct{ st *State }

func (e stateEnviron) Environ() []string {
	var out []string
	for _, k := range []string{"NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM", "COLORTERM"} {
		if v, ok := e.st.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func (e stateEnviron) Getenv(k string) string {
	v, _ := e.st.LookupEnv(k)
	return v
}
