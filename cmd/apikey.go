package cmd

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// apiKeyFlagWarning is printed when a key is given as a flag.
const apiKeyFlagWarning = "akidb: warning: --api-key shows the key to every user of this machine (ps, /proc) and keeps it in the shell history; use AKIDB_API_KEY or --api-key-file instead\n"

// addAPIKeyFlags adds --api-key and --api-key-file to fs.
func addAPIKeyFlags(fs *pflag.FlagSet, what string) {
	fs.String("api-key", "", what+" (prefer AKIDB_API_KEY or --api-key-file: a flag shows in the process list)")
	fs.String("api-key-file", "", "file holding the API key (surrounding whitespace removed); also AKIDB_API_KEY_FILE")
}

// apiKey is the credential a client command sends: --api-key-file (or
// AKIDB_API_KEY_FILE), else --api-key or AKIDB_API_KEY (or the config
// file's api-key). A key given as a command-line flag works but draws a
// warning, since every user of the machine can read it in the process
// list; the environment and a file of mode 0600 are private to the user.
func apiKey(c *cli, cmd *cobra.Command) (string, error) {
	key, file := c.v.GetString("api-key"), c.v.GetString("api-key-file")
	flagGiven := false
	if f := cmd.Flags().Lookup("api-key"); f != nil && f.Changed {
		flagGiven = true
	}
	if file != "" {
		if flagGiven {
			return "", fmt.Errorf("both --api-key and --api-key-file are given; use one")
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--api-key-file: %w", err)
		}
		key = strings.TrimSpace(string(data))
		if key == "" {
			return "", fmt.Errorf("--api-key-file %s is empty", file)
		}
		return key, nil
	}
	if flagGiven {
		fmt.Fprint(c.st.Stderr, apiKeyFlagWarning)
	}
	return key, nil
}
