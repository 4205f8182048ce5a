package packaging

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImage reads the image `make image` built (AKIDB_IMAGE, a
// docker-archive): its config runs /akidb serve as UID 65532 with /data
// as a volume, ports 8080 and 9090, SIGTERM and the health check; its
// root filesystem, unpacked from the layers, holds the static binary, the
// CA bundle and a /data owned by that user, and the binary in it runs.
func TestImage(t *testing.T) {
	img, err := tarball.ImageFromPath(mustEnv(t, "AKIDB_IMAGE"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/akidb"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("entrypoint %q cmd %q, want [/akidb] [serve]", c.Entrypoint, c.Cmd)
	}
	if _, ok := c.Volumes["/data"]; !ok || len(c.Volumes) != 1 {
		t.Errorf("volumes %v, want /data", c.Volumes)
	}
	for _, p := range []string{"8080/tcp", "9090/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s is not exposed: %v", p, c.ExposedPorts)
		}
	}
	if c.StopSignal != "SIGTERM" {
		t.Errorf("stop signal %q", c.StopSignal)
	}
	if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"CMD", "/akidb", "health"}) {
		t.Errorf("health check %+v, want CMD /akidb health", c.Healthcheck)
	}
	for _, e := range []string{"AKIDB_DATA_DIR=/data", "AKIDB_REST_ADDR=0.0.0.0:8080", "AKIDB_GRPC_ADDR=0.0.0.0:9090"} {
		if !slices.Contains(c.Env, e) {
			t.Errorf("env %v lacks %s", c.Env, e)
		}
	}
	if c.Labels["org.opencontainers.image.version"] == "" {
		t.Errorf("labels %v: no version", c.Labels)
	}

	root := t.TempDir()
	owners := unpack(t, mutate.Extract(img), root)
	for _, p := range []string{"akidb", "etc/ssl/certs/ca-certificates.crt", "data"} {
		if _, ok := owners[p]; !ok {
			t.Errorf("the image has no /%s (has %v)", p, keys(owners))
		}
	}
	if owners["data"] != [2]int{65532, 65532} {
		t.Errorf("/data is owned by %v, want 65532:65532", owners["data"])
	}
	if len(owners) > 12 {
		t.Errorf("the image holds more than the binary, the CA bundle and /data: %v", keys(owners))
	}
	bin := filepath.Join(root, "akidb")
	checkStatic(t, bin)
	var vi struct{ Version string }
	if err := json.Unmarshal([]byte(binary{path: bin}.run(t, baseEnv(), "version", "--json")), &vi); err != nil {
		t.Fatal(err)
	}
	if vi.Version != c.Labels["org.opencontainers.image.version"] {
		t.Errorf("the binary says version %q, the image label %q", vi.Version, c.Labels["org.opencontainers.image.version"])
	}
}

// unpack writes the flattened filesystem tar r under root and returns each
// entry's owner (uid, gid) by path.
func unpack(t *testing.T, r io.ReadCloser, root string) map[string][2]int {
	t.Helper()
	defer r.Close()
	owners := map[string][2]int{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return owners
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.Trim(filepath.Clean("/"+h.Name), "/")
		if name == "" {
			continue
		}
		owners[name] = [2]int{h.Uid, h.Gid}
		dst := filepath.Join(root, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o200)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		default:
			t.Errorf("unexpected entry %s of type %c", name, h.Typeflag)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
