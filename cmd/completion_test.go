package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// `akidb completion bash|zsh|fish` prints a script for each shell, and
// the completions the scripts ask for (cobra's hidden __complete) name the
// commands and flags of the tree.
func TestCompletion(t *testing.T) {
	for shell, marker := range map[string]string{"bash": "__start_akidb", "zsh": "#compdef akidb", "fish": "complete -c akidb"} {
		out := mustCLI(t, nil, "completion", shell)
		if !strings.Contains(out, marker) {
			t.Errorf("completion %s: no %q in %d bytes", shell, marker, len(out))
		}
	}
	script := filepath.Join(t.TempDir(), "akidb.bash")
	if err := os.WriteFile(script, []byte(mustCLI(t, nil, "completion", "bash")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n on the completion script: %v\n%s", err, out)
	}

	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{""}, []string{"serve", "keys", "health", "completion", "fsck", "version"}},
		{[]string{"ke"}, []string{"keys"}},
		{[]string{"keys", ""}, []string{"create", "generate", "revoke", "rotate"}},
		{[]string{"serve", "--tls-"}, []string{"--tls-cert", "--tls-key", "--tls-client-ca"}},
		{[]string{"health", "--"}, []string{"--url", "--ca-cert", "--tls-server-name"}},
	} {
		out := mustCLI(t, nil, append([]string{"__complete"}, c.args...)...)
		for _, w := range c.want {
			if !strings.Contains(out, w+"\n") && !strings.Contains(out, w+"\t") {
				t.Errorf("__complete %q: no %q in\n%s", c.args, w, out)
			}
		}
	}
}
