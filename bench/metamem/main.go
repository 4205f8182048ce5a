// Command metamem measures how much memory a collection's metadata takes:
// it builds an in-memory collection of n records, each with the same five
// metadata fields a catalogue might carry (two keywords, a price, a year,
// a flag), decoded from JSON as the server decodes a request, then prints
// the process's resident set (VmRSS) and the Go heap in use after a full
// collection and returning freed pages to the OS.
//
// Run it twice, with and without -metadata; the difference is what the
// metadata costs:
//
//	go run ./bench/metamem -n 100000 -metadata=false
//	go run ./bench/metamem -n 100000 -metadata=true
//
// docs/benchmarks.md has the figures, before and after the compact
// metadata store. It is a development tool, not part of akidb.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

func main() {
	n := flag.Int("n", 100000, "records")
	dim := flag.Int("dim", 16, "vector dimension (small, so that vectors do not dwarf the figure)")
	withMeta := flag.Bool("metadata", true, "give every record its five metadata fields")
	flag.Parse()
	if err := run(*n, *dim, *withMeta); err != nil {
		fmt.Fprintln(os.Stderr, "metamem:", err)
		os.Exit(1)
	}
}

func run(n, dim int, withMeta bool) error {
	c, err := engine.NewCollection(engine.CollectionConfig{Name: "metamem", Dimension: dim, Metric: distance.L2, M: 8, EfConstruction: 32, Seed: 1})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	categories := []string{"shoes", "boots", "sandals", "hats", "scarves", "gloves", "coats", "shirts", "trousers", "socks", "belts", "bags"}
	const batch = 500
	recs := make([]engine.Record, 0, batch)
	for i := range n {
		v := make([]float32, dim)
		for j := range v {
			v[j] = rng.Float32()
		}
		rec := engine.Record{ID: "sku-" + strconv.Itoa(i), Vector: v}
		if withMeta {
			doc := fmt.Sprintf(`{"tenant":"tenant-%03d","category":%q,"price":%.2f,"year":%d,"in_stock":%t}`,
				rng.IntN(200), categories[rng.IntN(len(categories))], float64(rng.IntN(100000))/100, 1990+rng.IntN(35), rng.IntN(2) == 0)
			if err := json.Unmarshal([]byte(doc), &rec.Metadata); err != nil {
				return err
			}
		}
		recs = append(recs, rec)
		if len(recs) == batch || i == n-1 {
			if err := c.Upsert(recs); err != nil {
				return err
			}
			recs = make([]engine.Record, 0, batch) // the engine may keep what it was given
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := vmRSS()
	if err != nil {
		return err
	}
	fmt.Printf("records=%d dim=%d metadata=%t rss_bytes=%d heap_inuse_bytes=%d\n", n, dim, withMeta, rss, ms.HeapInuse)
	runtime.KeepAlive(c)
	return nil
}

// vmRSS reads the resident set size from /proc/self/status (Linux).
func vmRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}
