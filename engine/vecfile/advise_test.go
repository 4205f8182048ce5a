package vecfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestAdviseRandom: the hint is accepted for an operating-system file and
// skipped for anything else (a test filesystem's files).
func TestAdviseRandom(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "v"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := adviseRandom(f); err != nil {
		t.Fatalf("fadvise on a real file: %v", err)
	}
	if err := adviseRandom(struct{}{}); err != nil {
		t.Fatalf("a file without a descriptor: %v", err)
	}
}
