package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Execute runs the akidb command line and exits with its status.
func Execute() {
	os.Exit(Run(newOSState()))
}

// exitError carries a specific exit code out of a command (for example
// fsck's "problems found") without printing anything extra.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Run executes the command tree against st and returns the process exit code.
func Run(st *State) int {
	root, _ := newRootCommand(st)
	root.SetArgs(st.Args)
	ctx, cancel := st.SignalContext(context.Background())
	defer cancel()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(st.Stderr, "akidb: %v\n", err)
	return 1
}

// Command returns the whole command tree as the binary runs it, for tools
// that document it (cmd/mangen writes the man pages from it).
func Command() *cobra.Command {
	root, _ := newRootCommand(newOSState())
	root.InitDefaultCompletionCmd()
	return root
}

// cli is what subcommand constructors receive: the OS state, the layered
// configuration and, once flags are parsed, the logger.
type cli struct {
	st     *State
	v      *viper.Viper
	logger *slog.Logger
}

// newRootCommand builds the command tree; the cli it returns is for tests.
func newRootCommand(st *State) (*cobra.Command, *cli) {
	c := &cli{st: st, v: viper.New()}
	root := &cobra.Command{
		Use:           "akidb",
		Short:         "AkiDB: a vector database for edge devices",
		Long:          "AkiDB is a vector database for edge devices: an HNSW engine with SIMD kernels, a write-ahead log and SQLite metadata in one binary.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return c.setup(cmd)
		},
	}
	root.SetOut(st.Stdout)
	root.SetErr(st.Stderr)
	root.SetIn(st.Stdin)
	pf := root.PersistentFlags()
	pf.String("config", "", "config file (TOML or YAML); settings layer as flags > AKIDB_* env > file > defaults")
	pf.String("log-level", "info", "log level: debug, info, warn, error")
	pf.String("log-format", "text", "log format: text or json")

	root.AddCommand(newVersionCommand(c))
	root.AddCommand(newBenchCommand(c))
	root.AddCommand(newServeCommand(c))
	root.AddCommand(newFsckCommand(c))
	root.AddCommand(newKeysCommand(c))
	root.AddCommand(newTenantsCommand(c))
	root.AddCommand(newCertsCommand(c))
	root.AddCommand(newQuotaCommand(c))
	root.AddCommand(newConfigCommand(c))
	root.AddCommand(newLoadtestCommand(c))
	root.AddCommand(newHealthCommand(c))
	root.AddCommand(newExportCommand(c))
	root.AddCommand(newMigrateCommand(c))
	root.AddCommand(newRestoreCommand(c))
	root.AddCommand(newDLQCommand(c))
	root.AddCommand(newCheckpointCommand(c))
	root.AddCommand(newLoadCommand(c), newEvictCommand(c))
	root.AddCommand(newStorageCommand(c))
	root.AddCommand(newTopCommand(c))
	return root, c
}

// setup layers configuration for the command being run and builds the logger.
//
// Viper does the layering: a flag given on the command line, then the
// AKIDB_<KEY> environment variable (AutomaticEnv: the key in upper case,
// "-" and "." as "_"), then the config file, then the flag's default.
// Every flag the command can see is bound under its own name, so
// "--ef-construction", AKIDB_EF_CONSTRUCTION and an "ef-construction" key
// in the config file all set the same value. --config itself may come
// from AKIDB_CONFIG.
func (c *cli) setup(cmd *cobra.Command) error {
	v := c.v
	v.SetEnvPrefix("AKIDB")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_", ".", "_"))
	v.AutomaticEnv()
	var bindErr error
	bind := func(f *pflag.Flag) {
		if bindErr == nil {
			bindErr = v.BindPFlag(f.Name, f)
		}
	}
	cmd.Flags().VisitAll(bind)
	cmd.InheritedFlags().VisitAll(bind)
	if bindErr != nil {
		return fmt.Errorf("bind flags: %w", bindErr)
	}
	if file := v.GetString("config"); file != "" {
		if err := checkConfigKeys(file, cmd.Root()); err != nil {
			return err
		}
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("read config %s: %w", file, err)
		}
	}
	logger, err := newLogger(c.st, v.GetString("log-level"), v.GetString("log-format"))
	if err != nil {
		return err
	}
	c.logger = logger
	return nil
}

func newLogger(st *State, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(st.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(st.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
