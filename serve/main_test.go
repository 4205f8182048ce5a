package serve

import (
	"os"
	"testing"
)

// TestMain runs the test binary as a child process of
// BenchmarkHostileClient when the environment asks for one (the server,
// or a hostile client), and the tests otherwise.
func TestMain(m *testing.M) {
	if code, ok := hostileChild(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
