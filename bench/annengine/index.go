package annengine

import (
	"context"
	"fmt"
	"strconv"

	"github.com/akidb/akidb/bench/ann"
	"github.com/akidb/akidb/bench/dataset"
	"github.com/akidb/akidb/engine"
)

// batchSize is how many rows go into one Upsert call while building.
const batchSize = 256

// Index adapts an engine collection to ann.Index. Row i of the base set is
// stored under the id strconv.Itoa(i).
type Index struct {
	c      *engine.Collection
	rerank int // the queries' rerank; 0: ef
}

var _ ann.Index = (*Index)(nil)

// NewIndex wraps c.
func NewIndex(c *engine.Collection) *Index { return &Index{c: c} }

// Add upserts rows [from, to) of base in batches.
func (x *Index) Add(base dataset.Matrix, from, to int) error {
	recs := make([]engine.Record, 0, batchSize)
	for start := from; start < to; start += batchSize {
		end := min(start+batchSize, to)
		recs = recs[:0]
		for i := start; i < end; i++ {
			recs = append(recs, engine.Record{ID: strconv.Itoa(i), Vector: base.Row(i)})
		}
		if err := x.c.Upsert(recs); err != nil {
			return fmt.Errorf("upsert rows %d..%d: %w", start, end, err)
		}
	}
	return nil
}

// Search runs a graph search.
func (x *Index) Search(q []float32, k, ef int) ([]int32, error) {
	res, err := x.c.Search(context.Background(), engine.SearchRequest{Vector: q, K: k, Ef: ef, Rerank: x.rerank})
	if err != nil {
		return nil, err
	}
	return rows(res.Hits)
}

// Settle finishes a quantized collection's background work after the
// build, as a server's checkpoints would: a retraining on the whole data
// when the first training saw too little of it, then the encoding (and the
// move of the vectors to disk). It fails when the collection did not end
// up as its settings ask.
func (x *Index) Settle(ctx context.Context) error {
	if x.c.Config().Quantization.Type != engine.QuantInt8 {
		return nil
	}
	x.c.WaitQuantization()
	x.c.RetrainIfDue()
	st := x.c.WaitQuantization()
	if err := ctx.Err(); err != nil {
		return err
	}
	if st.State != engine.QuantStateReady {
		return fmt.Errorf("quantization is %s, not ready: %s %s", st.State, st.Step, st.Error)
	}
	return nil
}

// ExactSearch runs a brute-force search.
func (x *Index) ExactSearch(q []float32, k int) ([]int32, error) {
	res, err := x.c.Search(context.Background(), engine.SearchRequest{Vector: q, K: k, Exact: true})
	if err != nil {
		return nil, err
	}
	return rows(res.Hits)
}

// MemoryBytes reports the collection's memory (vectors, graph, ids).
func (x *Index) MemoryBytes() int64 { return x.c.Stats().MemoryBytes }

func rows(hits []engine.Hit) ([]int32, error) {
	out := make([]int32, len(hits))
	for i, h := range hits {
		n, err := strconv.Atoi(h.ID)
		if err != nil {
			return nil, fmt.Errorf("unexpected id %q in results: %w", h.ID, err)
		}
		out[i] = int32(n)
	}
	return out, nil
}
