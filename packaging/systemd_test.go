package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit: systemd-analyze verify accepts the unit (with the
// binary where ExecStart names it and the LoadCredential lines it
// documents turned on), and every setting in the environment file example
// is one akidb serve reads.
func TestSystemdUnit(t *testing.T) {
	b := binary{path: mustEnv(t, "AKIDB_BIN")}
	unit, err := os.ReadFile("systemd/akidb.service")
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=akidb", "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes",
		"LimitNOFILE=", "Restart=on-failure", "TimeoutStopSec=", "MemoryMax"} {
		if !strings.Contains(text, want) {
			t.Errorf("the unit has no %s", want)
		}
	}
	const installed = "/usr/local/bin/akidb"
	if !strings.Contains(text, "ExecStart="+installed+" serve") {
		t.Fatalf("ExecStart does not run %s serve", installed)
	}
	text = strings.ReplaceAll(text, installed, b.path)
	text = strings.ReplaceAll(text, "\n#LoadCredential=", "\nLoadCredential=")
	path := filepath.Join(t.TempDir(), "akidb.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "akidb.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	flags := serveFlags(t, b)
	f, err := os.Open("systemd/akidb.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "#")
		name, _, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(name, " \t") || name == "" {
			continue
		}
		n++
		checkEnvName(t, name, flags)
	}
	if n < 5 {
		t.Fatalf("found %d settings in akidb.env", n)
	}
}
