package cmd

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeMNISTLike writes n random 4x4 images (and, for train, their labels)
// named as MNIST's files are.
func writeMNISTLike(t *testing.T, dir, prefix string, n int, labels bool) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	img := binary.BigEndian.AppendUint32(nil, 0x00000803)
	img = binary.BigEndian.AppendUint32(img, uint32(n))
	img = binary.BigEndian.AppendUint32(img, 4)
	img = binary.BigEndian.AppendUint32(img, 4)
	lab := binary.BigEndian.AppendUint32(nil, 0x00000801)
	lab = binary.BigEndian.AppendUint32(lab, uint32(n))
	for range n {
		digit := byte(rng.IntN(10))
		lab = append(lab, digit)
		for range 16 {
			img = append(img, digit*20+byte(rng.IntN(20)))
		}
	}
	path := filepath.Join(dir, prefix+"-images-idx3-ubyte")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	if labels {
		if err := os.WriteFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte"), lab, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// A small run end to end: one JSON line per measurement, the unfiltered
// baseline first, and a CPU profile when asked for.
func TestBenchFilterRuns(t *testing.T) {
	dir := t.TempDir()
	train := writeMNISTLike(t, dir, "train", 1500, true)
	test := writeMNISTLike(t, dir, "t10k", 20, false)
	prof := filepath.Join(dir, "cpu.prof")
	code, out, errs := runCLI(t, nil, "bench", "filter", "--train", train, "--test", test, "--selectivity", "1,50",
		"--m", "8", "--ef-construction", "40", "--json", "--cpuprofile", prof)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for i, l := range lines {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if (i == 0) != (row["mode"] == "unfiltered") || row["under_returns"] != float64(0) {
			t.Errorf("line %d: %v", i, row)
		}
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("profile: %v", err)
	}
	// Without a labels file beside the images: a clear error.
	code, _, errs = runCLI(t, nil, "bench", "filter", "--train", test, "--test", test)
	if code != 1 || !strings.Contains(errs, "labels") {
		t.Errorf("no labels: exit %d, %q", code, errs)
	}
}

func TestBenchFilterBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--selectivity", "0"}, "--selectivity"},
		{[]string{"--selectivity", "100"}, "--selectivity"},
		{[]string{"--selectivity", "ten"}, "--selectivity"},
		{[]string{"--selectivity", ","}, "--selectivity"},
		{[]string{}, "--mnist"},
		{[]string{"--train", "/nonexistent/train-images-idx3-ubyte", "--test", "/nonexistent/t"}, "nonexistent"},
	} {
		code, _, errs := runCLI(t, nil, append([]string{"bench", "filter"}, tc.args...)...)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want exit 1 and %q", tc.args, code, errs, tc.want)
		}
	}
}
