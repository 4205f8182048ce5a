package migrate

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/migrate/migratetest"
)

// BenchmarkParseLine parses lines of the benchmark fixture (384-d
// embeddings with a small metadata object) as the plan does (metadata
// decoded, as when records are kept for the load).
//
//	go test ./migrate -run '^$' -bench ParseLine -cpuprofile /tmp/parse.prof
func BenchmarkParseLine(b *testing.B) {
	f, err := migratetest.Large(filepath.Join(b.TempDir(), "v1"), 2000, 384, 1)
	if err != nil {
		b.Fatal(err)
	}
	in, err := os.Open(filepath.Join(f.Dir, "collections", "embeddings", "vectors.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	var lines [][]byte
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	sh := shape{dim: 384, metric: distance.Cosine}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := lines[i%len(lines)]
		if p := parseLine(l, int32(len(l)), "x", 1, sh, parseOptions{metadata: true}); p.kind != lineUpsert {
			b.Fatal(p.problem)
		}
	}
}
