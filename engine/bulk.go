package engine

import (
	"context"
	"sync"
	"sync/atomic"
)

// UpsertBulk is Upsert for loaders that write large batches one after
// another (`akidb migrate`): the batch is logged and fsynced like any
// upsert, but its vectors are linked into the graph by `linkers`
// goroutines (at least 1) while the log syncs, and the batch is published
// only once they are all linked. A bulk batch so never waits for, or
// adds to, the background backlog (stage.go), whose bound would otherwise
// leave a single large batch linked by one goroutine; the loader keeps
// every core busy with one writer. Durability, validation and the all or
// nothing rule are Upsert's.
func (h *Handle) UpsertBulk(ctx context.Context, recs []Record, linkers int) error {
	return h.upsert(ctx, recs, max(1, linkers), false)
}

// linkParallel links reserved nodes with `workers` goroutines, each taking
// the next node in order. Graph.Link is safe for concurrent use.
func (c *Collection) linkParallel(nodes []uint32, workers int) {
	workers = min(workers, len(nodes))
	if workers <= 1 {
		for _, n := range nodes {
			c.graph.Link(n)
		}
		return
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(nodes)); i = next.Add(1) - 1 {
				c.graph.Link(nodes[i])
			}
		}()
	}
	wg.Wait()
}
