package cmd

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/engine"
)

func newFsckCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fsck",
		Short: "Check (and with --repair, fix) a data directory that no server has open",
		Long: `Check a data directory: the SQLite catalog's integrity, every log record's and
snapshot's checksum, and that catalog entries and collection directories agree.

Exit status: 0 healthy (or every problem repaired), 1 problems remain, 2 the
check could not run (for example a server holds the directory).

--repair never deletes data: torn log tails are cut with the removed bytes kept
as *.broken, damaged segments and snapshots are renamed *.corrupt, and unknown
directories move to lost+found. Records after a corruption in the log are lost
from the database (they stay in the evidence files).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := c.v.GetString("data-dir")
			rep, err := engine.Fsck(dir, engine.FsckOptions{Repair: c.v.GetBool("repair"), Logger: c.logger})
			if err != nil {
				fmt.Fprintf(c.st.Stderr, "akidb fsck: %v\n", err)
				return &exitError{code: 2}
			}
			if c.v.GetBool("json") {
				enc := json.NewEncoder(c.st.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				writeFsckReport(c.st.Stdout, rep)
			}
			if !rep.OK() {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().String("data-dir", "./akidb-data", "data directory to check")
	cmd.Flags().Bool("repair", false, "fix what can be fixed without deleting data")
	cmd.Flags().Bool("json", false, "print the report as JSON")
	return cmd
}

func writeFsckReport(w io.Writer, rep *engine.FsckReport) {
	fmt.Fprintf(w, "data dir %s (catalog schema v%d)\n", rep.DataDir, rep.SchemaVersion)
	if len(rep.Catalog) == 0 {
		fmt.Fprintln(w, "catalog: ok")
	}
	for _, p := range rep.Catalog {
		fmt.Fprintf(w, "catalog: PROBLEM: %s\n", p)
	}
	for _, c := range rep.Collections {
		status := "ok"
		if len(c.Problems) > 0 {
			status = fmt.Sprintf("%d problem(s)", len(c.Problems))
		}
		fmt.Fprintf(w, "collection %s/%s [%s] %s: log %d records (seq %d..%d), %d snapshot(s): %s\n",
			c.Tenant, c.Name, c.ID, c.State, c.LogRecords, c.LogFirstSeq, c.LogLastSeq, len(c.Snapshots), status)
		for _, p := range c.Problems {
			fmt.Fprintf(w, "  PROBLEM: %s\n", p)
		}
	}
	for _, o := range rep.Orphans {
		fmt.Fprintf(w, "PROBLEM: directory collections/%s is not in the catalog\n", o)
	}
	for _, r := range rep.Repairs {
		fmt.Fprintf(w, "repaired: %s\n", r)
	}
	switch {
	case rep.Problems == 0:
		fmt.Fprintln(w, "no problems found")
	case rep.Remaining == 0:
		fmt.Fprintf(w, "%d problem(s) found, all repaired\n", rep.Problems)
	case len(rep.Repairs) > 0:
		fmt.Fprintf(w, "%d problem(s) found, %d remain after repair\n", rep.Problems, rep.Remaining)
	default:
		fmt.Fprintf(w, "%d problem(s) found; run with --repair to fix what can be fixed\n", rep.Problems)
	}
}
