package cmd

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/engine/distance"
)

// version, commit and date are stamped by the linker: `make build` sets
// version and commit to `git describe --tags --always --dirty` and the full
// commit hash; release builds (goreleaser.yaml, make build-static-*) also
// set date, with -ldflags "-X github.com/akidb/akidb/cmd.version=... -X
// github.com/akidb/akidb/cmd.commit=... -X github.com/akidb/akidb/cmd.date=...".
// Unstamped: "dev", and the commit and time from the Go build info if any.
var (
	version = "dev"
	commit  = ""
	date    = "" // build time, RFC 3339
)

type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Date    string `json:"date,omitempty"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	Kernels string `json:"distance_kernels"`
}

func currentVersion() versionInfo {
	vi := versionInfo{Version: version, Commit: commit, Date: date, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, Kernels: distance.Implementation()}
	if vi.Commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				switch {
				case s.Key == "vcs.revision":
					vi.Commit = s.Value
				case s.Key == "vcs.time" && vi.Date == "":
					vi.Date = s.Value
				}
			}
		}
	}
	return vi
}

func newVersionCommand(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, build and the distance kernels in use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vi := currentVersion()
			if asJSON {
				return json.NewEncoder(c.st.Stdout).Encode(vi)
			}
			_, err := fmt.Fprintf(c.st.Stdout, "akidb %s (commit %s, built %s, %s, %s/%s, kernels %s)\n", vi.Version, orNone(vi.Commit), orNone(vi.Date), vi.Go, vi.OS, vi.Arch, vi.Kernels)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
