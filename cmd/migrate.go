package cmd

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/akidb/akidb/migrate"
	"github.com/akidb/akidb/serve"
)

func newMigrateCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring data from an older AkiDB into this one",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newMigrateV1Command(c))
	return cmd
}

func newMigrateV1Command(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "v1-to-v2",
		Short: "Migrate an AkiDB 1.x data directory into a new 2.x data directory",
		Long: `Migrate an AkiDB 1.x data directory (--v1-data-dir, only ever read) into a new
AkiDB 2.x data directory (--data-dir) that "akidb serve --data-dir" then serves.

It plans first: tenants, collections, records, bytes, renames and every
problem in the v1 files as FILE:LINE. --dry-run stops there (exit 0 when the
plan is clean, 1 when it has problems). With --on-invalid=fail (the default)
a problem stops the run before anything is written; --on-invalid=skip leaves
the bad record (or collection, or tenant) out and lists it in the report.

The target must be new or empty. A run stopped part-way (Ctrl-C, a crash)
continues with the same command plus --resume, without duplicates or losses.
At the end every collection is verified (counts, checksum, exact search,
recall@10) and a report is printed and kept in <data-dir>/migrate-v1-report.json.

Exit status: 0 migrated and verified (or a clean dry run), 1 the plan has
problems or verification failed, 2 the migration could not run or was
interrupted. See docs/migration-v1-to-v2.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := c.v
			onInvalid, err := migrate.ParseOnInvalid(v.GetString("on-invalid"))
			if err != nil {
				return err
			}
			planCache := v.GetInt64("plan-cache-bytes")
			switch {
			case planCache < 0:
				return fmt.Errorf("--plan-cache-bytes %d: must be 0 (keep nothing) or more", planCache)
			case planCache == 0:
				planCache = -1 // migrate.Options: negative keeps nothing
			}
			output := v.GetString("output")
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			opts := migrate.Options{
				V1Dir: v.GetString("v1-data-dir"), DataDir: v.GetString("data-dir"),
				DryRun: v.GetBool("dry-run"), Resume: v.GetBool("resume"), OnInvalid: onInvalid,
				IncludeDeletedTenants: v.GetBool("include-deleted-tenants"), Batch: v.GetInt("batch"),
				MaxDimension: v.GetInt("max-dimension"), VerifyQueries: v.GetInt("verify-queries"), VerifyEf: v.GetInt("verify-ef"),
				PlanCacheBytes: planCache,
				Logger:         c.logger, Progress: progressFor(c.st.Stderr), Hook: c.st.MigrateHook,
			}
			rep, runErr := migrate.Run(cmd.Context(), opts)
			if output == "json" {
				data, err := rep.JSON()
				if err != nil {
					return err
				}
				fmt.Fprintln(c.st.Stdout, string(data))
			} else if err := rep.WriteText(c.st.Stdout); err != nil {
				return err
			}
			if runErr != nil {
				fmt.Fprintf(c.st.Stderr, "akidb migrate: %v\n", runErr)
			}
			if rep.ExitCode != 0 {
				return &exitError{code: rep.ExitCode}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.String("v1-data-dir", "", "the AkiDB 1.x data directory to read (never written)")
	f.String("data-dir", "", "the new AkiDB 2.x data directory (must be new or empty, unless --resume)")
	f.Bool("dry-run", false, "plan and report only; write nothing")
	f.Bool("resume", false, "continue a migration into --data-dir that was interrupted")
	f.String("on-invalid", string(migrate.OnInvalidFail), "fail: stop before writing on any invalid input; skip: leave it out and list it in the report")
	f.Bool("include-deleted-tenants", false, "also migrate tenants whose 1.x status is deleted")
	f.Int("batch", migrate.DefaultBatch, "records per write")
	f.String("output", "text", "report format: text or json")
	f.Int("max-dimension", serve.DefaultConfig().Limits.MaxDimension, "the largest dimension the target server accepts (akidb serve --max-dimension)")
	f.Int("verify-queries", migrate.DefaultVerifyQueries, "sample queries per collection in the final verification")
	f.Int("verify-ef", migrate.DefaultVerifyEf, "search beam width of the verification's recall check")
	f.Int64("plan-cache-bytes", migrate.DefaultPlanCacheBytes, "memory for records the plan parsed and keeps, so loading does not parse them again (0: keep none)")
	return cmd
}

// progressFor draws a bar when w is a terminal and writes a plain line
// every few seconds otherwise (logs, pipes).
func progressFor(w io.Writer) migrate.Progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return migrate.NewBarProgress(w)
	}
	return migrate.NewLineProgress(w, 5*time.Second, time.Now)
}
