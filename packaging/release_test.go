package packaging

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestReleaseBinary runs each release binary of AKIDB_BINARIES (the arm64
// one under qemu-aarch64-static) as a user would on a fresh machine: it
// is static, `version` is stamped and names the distance kernels of its
// architecture, and `serve` on an empty directory answers /readyz, takes
// an insert, answers a query, stops on SIGTERM and has the record after a
// restart.
func TestReleaseBinary(t *testing.T) {
	for _, b := range parseBinaries(t, mustEnv(t, "AKIDB_BINARIES")) {
		t.Run(filepath.Base(filepath.Dir(b.path)), func(t *testing.T) {
			arch := checkStatic(t, b.path)
			var vi struct {
				Version, Commit, Date, Arch string
				Kernels                     string `json:"distance_kernels"`
			}
			if err := json.Unmarshal([]byte(b.run(t, baseEnv(), "version", "--json")), &vi); err != nil {
				t.Fatal(err)
			}
			if vi.Version == "" || vi.Version == "dev" || len(vi.Commit) != 40 || vi.Date == "" {
				t.Errorf("the version is not stamped: %+v", vi)
			}
			if vi.Arch != arch {
				t.Errorf("version says arch %q, the ELF file is %s", vi.Arch, arch)
			}
			if arch == "arm64" && vi.Kernels != "neon" {
				t.Errorf("arm64 binary runs the %q kernels, want neon", vi.Kernels)
			}
			if arch == "amd64" && vi.Kernels == "" {
				t.Errorf("no kernels reported: %+v", vi)
			}
			serveInsertQuery(t, b)
			if b.exec == "" {
				bashCompletes(t, b)
			}
		})
	}
}

// bashCompletes sources the binary's bash completion script in a real
// bash with Debian's bash-completion (which the script builds on), with
// the binary on PATH as a user installs it, and completes
// "akidb ke" and "akidb serve --tls-c".
func bashCompletes(t *testing.T, b binary) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(b.path, filepath.Join(dir, "akidb")); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "akidb.bash")
	if err := os.WriteFile(script, []byte(b.run(t, baseEnv(), "completion", "bash")), 0o600); err != nil {
		t.Fatal(err)
	}
	for line, want := range map[string]string{"akidb ke": "keys", "akidb serve --tls-c": "--tls-cert"} {
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", `source /usr/share/bash-completion/bash_completion; source "$1"; read -ra COMP_WORDS <<< "$2"; [[ "$2" == *" " ]] && COMP_WORDS+=("");
COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}; __start_akidb; printf '%s\n' "${COMPREPLY[@]}"`, "bash", script, line)
		cmd.Env = baseEnv()
		cmd.Env[0] = "PATH=" + dir + ":" + os.Getenv("PATH")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("bash completion of %q: %v, want %q in\n%s", line, err, want, out)
		}
	}
}

// checkStatic fails unless path is a statically linked ELF executable (no
// interpreter, no shared libraries: ldd's "not a dynamic executable") and
// returns its architecture.
func checkStatic(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v segment: it is dynamically linked", path, p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", path, libs)
	}
	if runtime.GOARCH == "amd64" && f.Machine == elf.EM_X86_64 {
		out, _ := exec.Command("ldd", path).CombinedOutput()
		if !strings.Contains(string(out), "not a dynamic executable") && !strings.Contains(string(out), "statically linked") {
			t.Errorf("ldd %s: %s", path, out)
		}
	}
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	}
	t.Fatalf("%s: unexpected machine %v", path, f.Machine)
	return ""
}

func serveInsertQuery(t *testing.T, b binary) {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "bootstrap-admin.key")
	key := strings.TrimSpace(b.run(t, baseEnv(), "keys", "generate"))
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	args := []string{"serve", "--data-dir", data, "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--bootstrap-admin-key-file", keyFile}
	s := startServer(t, b, baseEnv(), args...)
	waitStatus(t, s, s.rest+"/readyz", 200)
	if out := b.run(t, baseEnv(), "health", "--url", s.rest); !strings.Contains(out, "200") {
		t.Errorf("akidb health: %q", out)
	}
	api := s.rest + "/api/v1/collections"
	if code, body := call(t, "POST", api, key, `{"name":"docs","dimension":4,"metric":"l2"}`); code != 201 {
		t.Fatalf("create collection: %d %s", code, body)
	}
	if code, body := call(t, "POST", api+"/docs/insert", key,
		`{"vectors":[{"id":"a","vector":[1,0,0,0],"metadata":{"color":"red"}},{"id":"b","vector":[0,1,0,0]},{"id":"c","vector":[0,0,1,0]}]}`); code != 200 {
		t.Fatalf("insert: %d %s", code, body)
	}
	query := func(s *server) {
		t.Helper()
		code, body := call(t, "POST", s.rest+"/api/v1/collections/docs/query", key, `{"vector":[0.9,0.1,0,0],"k":2,"include_metadata":true}`)
		if code != 200 {
			t.Fatalf("query: %d %s", code, body)
		}
		var res struct {
			Results []struct {
				ID       string         `json:"id"`
				Metadata map[string]any `json:"metadata"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 2 || res.Results[0].ID != "a" || res.Results[0].Metadata["color"] != "red" {
			t.Fatalf("query answered %s", body)
		}
	}
	query(s)
	s.stop()
	// The acknowledged records are there after a restart.
	s = startServer(t, b, baseEnv(), args...)
	waitStatus(t, s, s.rest+"/readyz", 200)
	query(s)
	s.stop()
}

// TestGoreleaserMatchesMakefile: goreleaser.yaml builds each platform with
// the tags, C compiler and linker flags of the Makefile's build-static-%
// targets, which make test runs (the arm64 one under qemu).
func TestGoreleaserMatchesMakefile(t *testing.T) {
	out, err := exec.Command("make", "-s", "-C", "..", "print-static").Output()
	if err != nil {
		t.Fatalf("make print-static: %v", err)
	}
	mk := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		mk[k] = v
	}
	raw, err := os.ReadFile("../goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Version int `json:"version"`
		Builds  []struct {
			ID      string   `json:"id"`
			Goarch  []string `json:"goarch"`
			Env     []string `json:"env"`
			Flags   []string `json:"flags"`
			Tags    []string `json:"tags"`
			Ldflags []string `json:"ldflags"`
		} `json:"builds"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Version != 2 || len(cfg.Builds) != 2 {
		t.Fatalf("goreleaser.yaml: version %d, %d builds; want version 2 with amd64 and arm64", cfg.Version, len(cfg.Builds))
	}
	seen := map[string]bool{}
	for _, b := range cfg.Builds {
		if len(b.Goarch) != 1 {
			t.Fatalf("build %s: goarch %v, want one", b.ID, b.Goarch)
		}
		arch := b.Goarch[0]
		seen[arch] = true
		if got, want := sorted(b.Tags), sorted(strings.Fields(mk["tags"])); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("build %s tags %v, Makefile %v", b.ID, got, want)
		}
		if !contains(b.Env, "CC="+mk["cc_"+arch]) || !contains(b.Env, "CGO_ENABLED=1") {
			t.Errorf("build %s env %v, want CGO_ENABLED=1 and CC=%s", b.ID, b.Env, mk["cc_"+arch])
		}
		if !contains(b.Flags, "-trimpath") {
			t.Errorf("build %s flags %v, want -trimpath", b.ID, b.Flags)
		}
		if got, want := normLdflags(strings.Join(b.Ldflags, " ")), normLdflags(mk["ldflags"]); got != want {
			t.Errorf("build %s ldflags\n  %s\nMakefile\n  %s", b.ID, got, want)
		}
	}
	if !seen["amd64"] || !seen["arm64"] {
		t.Errorf("goreleaser.yaml builds %v, want amd64 and arm64", seen)
	}
}

// stampValue is what differs between the two: goreleaser's templates and
// the Makefile's git values.
var stampValue = regexp.MustCompile(`(-X \S+\.(version|commit|date))=(\{\{[^}]*\}\}|\S*)`)

func normLdflags(s string) string {
	return strings.Join(strings.Fields(stampValue.ReplaceAllString(s, "$1=STAMP")), " ")
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
