package cmd

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// checkConfigKeys refuses a config file with a key that no command has a
// flag for, naming the key, the file and the nearest known key: a typo
// ("fsnyc") would otherwise leave the setting at its default without a
// word, while the API refuses unknown fields. A key of another command
// (a file shared by `akidb serve` and `akidb keys`) is accepted.
func checkConfigKeys(file string, root *cobra.Command) error {
	fv := viper.New()
	fv.SetConfigFile(file)
	if err := fv.ReadInConfig(); err != nil {
		return fmt.Errorf("read config %s: %w", file, err)
	}
	known := knownKeys(root)
	var unknown []string
	for _, k := range fv.AllKeys() {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	msgs := make([]string, len(unknown))
	for i, k := range unknown {
		msgs[i] = fmt.Sprintf("unknown key %q", k)
		if near := nearestKey(k, known); near != "" {
			msgs[i] += fmt.Sprintf(" (did you mean %q?)", near)
		}
	}
	return fmt.Errorf("config file %s: %s; keys are named like the flags (akidb serve --help, docs/config.example.toml)", file, strings.Join(msgs, ", "))
}

// knownKeys are the names of every flag of every command.
func knownKeys(root *cobra.Command) map[string]bool {
	known := map[string]bool{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		add := func(f *pflag.Flag) { known[f.Name] = true }
		c.LocalFlags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return known
}

// nearestKey is the known key closest to k by edit distance (the last
// part of a dotted key counts too: "server.rest-addr" suggests
// "rest-addr"), if it is close enough to be a likely typo.
func nearestKey(k string, known map[string]bool) string {
	best, bestD := "", -1
	last := k[strings.LastIndex(k, ".")+1:]
	for cand := range known {
		d := min(editDistance(k, cand), editDistance(last, cand))
		if bestD < 0 || d < bestD || d == bestD && cand < best {
			best, bestD = cand, d
		}
	}
	if bestD < 0 || bestD > max(2, len(last)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
