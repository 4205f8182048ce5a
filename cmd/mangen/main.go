// Command mangen writes the akidb man pages (section 1), one per command,
// generated from the cobra command tree: `make man` runs it, and the
// release archives carry its output. It is a build tool, not part of the
// akidb binary, so the man page renderer stays out of the product.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/akidb/akidb/cmd"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mangen DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "mangen: %v\n", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	root := cmd.Command()
	// No date in the pages: the same tree gives the same bytes.
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "AKIDB", Section: "1", Source: "AkiDB", Manual: "AkiDB Manual"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return doc.GenManTree(root, header, dir)
}
