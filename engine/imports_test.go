package engine

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// forbiddenImports are what the engine must never pull in, directly or
// through a dependency: transports, the CLI, and the S3 client (which
// brings net/http; only serve and cmd wire engine/tier/s3 in).
var forbiddenImports = []string{
	"net/http",
	"github.com/gin-gonic/gin",
	"google.golang.org/grpc",
	"github.com/spf13/cobra",
	"github.com/spf13/viper",
	"github.com/minio/minio-go/v7",
	"github.com/akidb/akidb/engine/tier/s3",
	"github.com/akidb/akidb/serve",
	"github.com/akidb/akidb/cmd",
}

// exemptPackages may import them: the S3 store and its test server live
// under engine/ but are wired in by serve and cmd only.
func exempt(pkg string) bool {
	return pkg == "github.com/akidb/akidb/engine/tier/s3" || strings.HasPrefix(pkg, "github.com/akidb/akidb/engine/tier/s3/")
}

func TestEngineImportsNoTransport(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	pkgs, err := exec.Command(goBin, "list", "github.com/akidb/akidb/engine/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, pkg := range strings.Fields(string(pkgs)) {
		if exempt(pkg) {
			continue
		}
		out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, dep := range deps {
			for _, bad := range forbiddenImports {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s imports %s (through its dependencies); the engine must not", pkg, dep)
				}
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d engine packages checked: go list found %q", checked, pkgs)
	}
}
