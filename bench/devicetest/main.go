// Command devicetest loads and queries the collection of the device test
// (docs/quantization.md, "Device test"): embedding-like 384-d vectors (a
// 32-d Gaussian mixture of 200 clusters, projected to 384 dimensions with
// isotropic noise, normalized: sentence embeddings have a low intrinsic
// dimension), drawn from a seed so that the query side recomputes the
// exact neighbours by brute force. It talks to a running server over REST
// (authentication off):
//
//	go run ./bench/devicetest load -url http://127.0.0.1:8080 -n 500000
//	go run ./bench/devicetest query -url http://127.0.0.1:8080 -n 500000 -ef 16,32,64,128
//
// run.sh drives the whole test (load, then a restart inside a memory
// cgroup). It is a development tool, not part of akidb.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	latent   = 32
	clusters = 200
	spread   = 0.4
	noise    = 0.1
)

type gen struct {
	dim     int
	proj    [][]float32 // dim x latent
	centers [][]float64
}

func newGen(dim int, seed uint64) *gen {
	r := rand.New(rand.NewPCG(seed, 0xdead))
	g := &gen{dim: dim}
	g.proj = make([][]float32, dim)
	for i := range g.proj {
		g.proj[i] = make([]float32, latent)
		for j := range latent {
			g.proj[i][j] = float32(r.NormFloat64() / math.Sqrt(latent))
		}
	}
	g.centers = make([][]float64, clusters)
	for c := range g.centers {
		g.centers[c] = make([]float64, latent)
		for j := range latent {
			g.centers[c][j] = r.NormFloat64()
		}
	}
	return g
}

// vec is vector i of stream s (0 base, 1 queries).
func (g *gen) vec(s, i uint64) []float32 {
	r := rand.New(rand.NewPCG(s*1_000_003+1, i))
	c := g.centers[r.IntN(clusters)]
	z := make([]float64, latent)
	for j := range z {
		z[j] = c[j] + spread*r.NormFloat64()
	}
	out := make([]float32, g.dim)
	var norm float64
	for d := range out {
		var v float64
		for j, pj := range g.proj[d] {
			v += float64(pj) * z[j]
		}
		v += noise * r.NormFloat64()
		out[d] = float32(v)
		norm += v * v
	}
	inv := float32(1 / math.Sqrt(norm))
	for d := range out {
		out[d] *= inv
	}
	return out
}

func post(url string, body any, out any) error {
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

type vecJSON struct {
	ID     string    `json:"id"`
	Vector []float32 `json:"vector"`
}

func load(url, col string, n, dim, batch, workers int, g *gen) {
	err := post(url+"/api/v1/collections", map[string]any{"name": col, "dimension": dim, "metric": "cosine",
		"quantization": map[string]any{"type": "int8", "originals": "disk"}}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "create:", err)
	}
	var next, done atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(batch))) - batch
				if lo >= n {
					return
				}
				hi := min(lo+batch, n)
				vs := make([]vecJSON, 0, hi-lo)
				for i := lo; i < hi; i++ {
					vs = append(vs, vecJSON{ID: strconv.Itoa(i), Vector: g.vec(0, uint64(i))})
				}
				for try := 0; ; try++ {
					err := post(url+"/api/v1/collections/"+col+"/insert", map[string]any{"vectors": vs}, nil)
					if err == nil {
						break
					}
					if try > 20 {
						fmt.Fprintln(os.Stderr, "insert:", err)
						os.Exit(1)
					}
					time.Sleep(time.Second)
				}
				d := done.Add(int64(hi - lo))
				if d%50000 < int64(batch) {
					fmt.Printf("%s %d loaded, %.0f/s\n", time.Now().Format("15:04:05"), d, float64(d)/time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("loaded %d in %v (%.0f/s)\n", n, time.Since(start).Round(time.Second), float64(n)/time.Since(start).Seconds())
}

// truth computes the exact top k of each query by brute force (all cores).
func truth(n, k int, qs [][]float32, g *gen) [][]int {
	res := make([][]int, len(qs))
	type cand struct {
		id int
		s  float32
	}
	tops := make([][]cand, len(qs))
	var mu sync.Mutex
	workers := runtime.NumCPU()
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([][]cand, len(qs))
			for i := w * per; i < min(n, (w+1)*per); i++ {
				v := g.vec(0, uint64(i))
				for qi, q := range qs {
					var s float32
					for d := range v {
						s += v[d] * q[d]
					}
					l := local[qi]
					if len(l) < k || s > l[len(l)-1].s {
						l = append(l, cand{i, s})
						sort.Slice(l, func(a, b int) bool { return l[a].s > l[b].s })
						if len(l) > k {
							l = l[:k]
						}
						local[qi] = l
					}
				}
			}
			mu.Lock()
			for qi := range qs {
				tops[qi] = append(tops[qi], local[qi]...)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for qi := range qs {
		l := tops[qi]
		sort.Slice(l, func(a, b int) bool { return l[a].s > l[b].s })
		for _, c := range l[:k] {
			res[qi] = append(res[qi], c.id)
		}
	}
	return res
}

type hit struct {
	ID string `json:"id"`
}
type qresp struct {
	Results []hit `json:"results"`
}

func query(url, col string, n, dim, nq, k int, efs []int, seconds int, g *gen, truthFile string) {
	qs := make([][]float32, nq)
	for i := range qs {
		qs[i] = g.vec(1, uint64(i))
	}
	var gt [][]int
	if b, err := os.ReadFile(truthFile); err == nil {
		_ = json.Unmarshal(b, &gt)
	}
	if len(gt) != nq {
		t0 := time.Now()
		gt = truth(n, k, qs, g)
		b, _ := json.Marshal(gt)
		_ = os.WriteFile(truthFile, b, 0o644)
		fmt.Printf("exact neighbours of %d queries in %v\n", nq, time.Since(t0).Round(time.Second))
	}
	for _, ef := range efs {
		var found, fails int
		var lat []time.Duration
		ask := func(q []float32) ([]hit, time.Duration, error) {
			var r qresp
			t := time.Now()
			err := post(url+"/api/v1/collections/"+col+"/query", map[string]any{"vector": q, "k": k, "ef": ef, "include_metadata": false}, &r)
			return r.Results, time.Since(t), err
		}
		for qi, q := range qs {
			hits, d, err := ask(q)
			if err != nil {
				fails++
				continue
			}
			lat = append(lat, d)
			want := map[int]bool{}
			for _, id := range gt[qi] {
				want[id] = true
			}
			for _, h := range hits {
				id, _ := strconv.Atoi(h.ID)
				if want[id] {
					found++
				}
			}
		}
		recall := float64(found) / float64(nq*k)
		// Then a timed loop over the same queries for latency.
		end := time.Now().Add(time.Duration(seconds) * time.Second)
		count := 0
		for i := 0; time.Now().Before(end); i++ {
			_, d, err := ask(qs[i%nq])
			if err != nil {
				fails++
				continue
			}
			lat = append(lat, d)
			count++
		}
		slices.Sort(lat)
		fmt.Printf("ef %d: recall@%d %.4f over %d queries; %d timed queries in %ds (%.0f/s), p50 %v p99 %v, %d failed\n",
			ef, k, recall, nq, count, seconds, float64(count)/float64(seconds), lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond), fails)
	}
}

func main() {
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	url := fs.String("url", "", "")
	col := fs.String("collection", "device", "")
	n := fs.Int("n", 500000, "")
	dim := fs.Int("dim", 384, "")
	batch := fs.Int("batch", 1000, "")
	workers := fs.Int("workers", 2, "")
	nq := fs.Int("queries", 200, "")
	efs := fs.String("ef", "64,128,256", "")
	secs := fs.Int("seconds", 30, "")
	tf := fs.String("truth", "devicetest-truth.json", "file caching the exact neighbours")
	_ = fs.Parse(os.Args[2:])
	g := newGen(*dim, 7)
	switch mode {
	case "load":
		load(*url, *col, *n, *dim, *batch, *workers, g)
	case "query":
		var e []int
		for _, s := range strings.Split(*efs, ",") {
			v, _ := strconv.Atoi(s)
			e = append(e, v)
		}
		query(*url, *col, *n, *dim, *nq, 10, e, *secs, g, *tf)
	}
}
