package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/payload"
	"github.com/akidb/akidb/engine/record"
)

// UpsertBatch is a validated, normalised batch ready to be logged and applied.
// Within a batch, a later record with the same id wins.
type UpsertBatch struct {
	Records []Record
	// meta holds each record's metadata as the collection keeps it
	// (canonical compact JSON, "" for none; metadata.go).
	meta []string
}

// DeleteBatch lists ids to delete.
type DeleteBatch struct {
	IDs []string
}

// ValidateID checks a caller's record id.
func ValidateID(field, id string) error {
	if id == "" {
		return invalid(field, "id must not be empty")
	}
	if len(id) > MaxIDBytes {
		return invalid(field, "id is %d bytes, the limit is %d", len(id), MaxIDBytes)
	}
	if !utf8.ValidString(id) {
		return invalid(field, "id must be valid UTF-8")
	}
	return nil
}

// ValidateVector checks length and that every value is finite.
func ValidateVector(field string, v []float32, dim int) error {
	if len(v) == 0 {
		return invalid(field, "vector must not be empty")
	}
	if len(v) != dim {
		return invalid(field, "vector has %d dimensions, the collection has %d", len(v), dim)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return invalid(fmt.Sprintf("%s[%d]", field, i), "value must be a finite number")
		}
	}
	return nil
}

// PrepareUpsert validates records and returns a batch that owns copies of
// the vectors (normalised for cosine) and of the metadata (as canonical
// text). Nothing is changed on error.
func (c *Collection) PrepareUpsert(recs []Record) (UpsertBatch, error) {
	b, raw, err := c.prepareRecords(recs, false)
	if err != nil {
		return UpsertBatch{}, err
	}
	if err := canonicalizeMetadata(b, raw, false); err != nil {
		return UpsertBatch{}, err
	}
	return b, nil
}

// prepareRecords validates the ids and vectors of recs and returns the
// batch, with each record's metadata as JSON in raw (nil for none), not
// made canonical yet (canonicalizeMetadata). Without owned, the batch's vectors are
// copies, normalised for cosine. With owned, the batch is recs itself
// (the caller gave it up: Handle.UpsertOwned) and the vectors are
// normalised in place, so a large batch is not held twice.
func (c *Collection) prepareRecords(recs []Record, owned bool) (UpsertBatch, [][]byte, error) {
	if len(recs) == 0 {
		return UpsertBatch{}, nil, invalid("vectors", "batch is empty")
	}
	dim := c.cfg.Dimension
	out := recs
	var arena []float32
	if !owned {
		out = make([]Record, len(recs))
		arena = make([]float32, len(recs)*dim)
	}
	raw := make([][]byte, len(recs))
	for i, r := range recs {
		field := fmt.Sprintf("vectors[%d]", i)
		if err := ValidateID(field+".id", r.ID); err != nil {
			return UpsertBatch{}, nil, err
		}
		if err := ValidateVector(field+".vector", r.Vector, dim); err != nil {
			return UpsertBatch{}, nil, err
		}
		v := r.Vector
		if !owned {
			v = arena[i*dim : (i+1)*dim : (i+1)*dim]
			copy(v, r.Vector)
		}
		if c.cfg.Metric == distance.Cosine && !distance.Normalize(v) {
			return UpsertBatch{}, nil, invalid(field+".vector", "a cosine collection cannot store a zero vector")
		}
		raw[i] = r.MetadataJSON
		if raw[i] == nil && len(r.Metadata) > 0 {
			var err error
			if raw[i], err = json.Marshal(r.Metadata); err != nil {
				return UpsertBatch{}, nil, invalid(field+".metadata", "not representable as JSON: %v", err)
			}
		}
		if len(raw[i]) > MaxMetadataBytes {
			return UpsertBatch{}, nil, invalid(field+".metadata", "is %d bytes as JSON, the limit is %d", len(raw[i]), MaxMetadataBytes)
		}
		out[i] = Record{ID: r.ID, Vector: v, Metadata: r.Metadata}
		if owned {
			out[i].MetadataJSON = r.MetadataJSON
		}
	}
	return UpsertBatch{Records: out, meta: make([]string, len(recs))}, raw, nil
}

// canonicalizeMetadata sets each record's metadata to the canonical
// compact text of raw[i] (metadata.go) and makes raw[i] that text: the
// collection keeps it and the log holds it, so that a restart rebuilds
// exactly this, and the caller's later changes to a map it passed cannot
// reach the collection. {} and null are no metadata. With release, each
// record's metadata as given is dropped once it is canonical (the caller
// gave the batch up: Handle.UpsertOwned), so the batch never holds its
// metadata in both forms.
func canonicalizeMetadata(b UpsertBatch, raw [][]byte, release bool) error {
	for i := range b.Records {
		r := &b.Records[i]
		meta, err := canonicalMetadata(raw[i])
		if err != nil {
			return invalid(fmt.Sprintf("vectors[%d].metadata", i), "%v", err)
		}
		if len(meta) > MaxMetadataBytes {
			return invalid(fmt.Sprintf("vectors[%d].metadata", i), "is %d bytes as compact JSON, the limit is %d", len(meta), MaxMetadataBytes)
		}
		b.meta[i] = meta
		raw[i] = nil
		if meta != "" {
			raw[i] = metaBytesOf(meta) // read by the log's encoder only
		}
		r.Metadata = nil
		if release {
			r.MetadataJSON = nil
		}
	}
	return nil
}

// PrepareDelete validates ids.
func (c *Collection) PrepareDelete(ids []string) (DeleteBatch, error) {
	if len(ids) == 0 {
		return DeleteBatch{}, invalid("ids", "no ids given")
	}
	for i, id := range ids {
		if err := ValidateID(fmt.Sprintf("ids[%d]", i), id); err != nil {
			return DeleteBatch{}, err
		}
	}
	return DeleteBatch{IDs: append([]string(nil), ids...)}, nil
}

// Upsert inserts or replaces records. Replacing an id replaces its vector
// and metadata. The batch is validated as a whole first: on a validation
// error nothing is written.
func (c *Collection) Upsert(recs []Record) error {
	b, err := c.PrepareUpsert(recs)
	if err != nil {
		return err
	}
	c.writeGate.RLock()
	defer c.writeGate.RUnlock()
	return c.ApplyUpsert(c.takeSeq(), b)
}

// Delete removes records by id and returns how many existed.
func (c *Collection) Delete(ids []string) (int, error) {
	b, err := c.PrepareDelete(ids)
	if err != nil {
		return 0, err
	}
	c.writeGate.RLock()
	defer c.writeGate.RUnlock()
	return c.ApplyDelete(c.takeSeq(), b)
}

// BeginWrite admits one write: hold it from before taking a sequence
// number until the write is applied, then call the returned function.
func (c *Collection) BeginWrite() (end func()) {
	c.writeGate.RLock()
	return c.writeGate.RUnlock
}

// takeSeq hands out sequence numbers for collections with no log in front.
func (c *Collection) takeSeq() uint64 {
	c.seqMu.Lock()
	defer c.seqMu.Unlock()
	c.nextSeq++
	return c.nextSeq
}

// ApplyUpsert applies a prepared batch under sequence number seq. A caller
// that runs writes concurrently must hold the write gate (BeginWrite) from
// before it takes seq until ApplyUpsert returns. Graph
// insertion runs concurrently with other writers; publication waits for
// every lower sequence number. A seq at or below the applied one is a
// replay of something already applied and is ignored.
func (c *Collection) ApplyUpsert(seq uint64, b UpsertBatch) error {
	if c.alreadyApplied(seq) {
		return nil
	}
	ib := c.indexUpsert(b)
	if ib.err != nil {
		// Take the turn anyway so later sequence numbers are not held up.
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := c.waitTurnLocked(seq); err != nil {
			return err
		}
		c.finishTurnLocked(seq)
		return ib.err
	}
	return c.publishUpsert(seq, ib)
}

// indexedBatch is a batch whose vectors are in the graph but not visible.
type indexedBatch struct {
	b     UpsertBatch
	nodes []uint32
	err   error
	// staged: the nodes are reserved but not linked (stageUpsert);
	// publishing them starts their linking in the background.
	staged bool
}

// indexUpsert adds a batch's vectors to the graph and links them, invisible
// to readers until publishUpsert: the synchronous path of ApplyUpsert
// (in-memory collections and replay). Durable writes stage instead and
// link in the background (stage.go). On error the batch's nodes are
// already removed: all or nothing.
func (c *Collection) indexUpsert(b UpsertBatch) indexedBatch {
	ib := c.stageUpsert(b)
	if ib.err != nil {
		return ib
	}
	for _, n := range ib.nodes {
		c.graph.Link(n)
	}
	ib.staged = false
	return ib
}

// discardUpsert tombstones the nodes of a batch that will not be published.
func (c *Collection) discardUpsert(ib indexedBatch) {
	if ib.staged {
		for _, n := range ib.nodes {
			c.graph.Abandon(n)
		}
		return
	}
	for _, n := range ib.nodes {
		// The nodes were added by this collection: Delete cannot fail on
		// an unknown id.
		_ = c.graph.Delete(n)
	}
}

// publishUpsert makes an indexed batch visible under sequence number seq,
// after every lower sequence number.
func (c *Collection) publishUpsert(seq uint64, ib indexedBatch) error {
	if err := c.makeVisible(seq, ib); err != nil {
		return err
	}
	if ib.staged {
		c.linkStaged(ib.nodes)
	}
	c.maybeStartQuant()
	return nil
}

// makeVisible is publishUpsert's locked part: it maps the ids to the new
// nodes (recording staged ones) in sequence order.
func (c *Collection) makeVisible(seq uint64, ib indexedBatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.waitTurnLocked(seq); err != nil {
		c.discardUpsert(ib)
		return err
	}
	defer c.finishTurnLocked(seq)
	if ib.staged {
		for _, n := range ib.nodes {
			c.staged[n] = struct{}{}
		}
	}
	c.idx.Update(func(tx payload.Tx) {
		for i, r := range ib.b.Records {
			n := ib.nodes[i]
			if old, ok := c.byID[r.ID]; ok {
				c.unpublishLocked(old, tx)
			}
			s := &slot{id: r.ID, meta: ib.b.meta[i]}
			c.byID[r.ID] = n
			c.setSlot(n, s)
			tx.Publish(n, metaBytesOf(s.meta))
			c.idBytes += int64(len(r.ID))
			c.metaBytes += s.metaBytes()
		}
	})
	c.live.Store(int64(len(c.byID)))
	return nil
}

// ApplyDelete applies a prepared delete under sequence number seq and
// returns how many of the ids existed.
func (c *Collection) ApplyDelete(seq uint64, b DeleteBatch) (int, error) {
	if c.alreadyApplied(seq) {
		return 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.waitTurnLocked(seq); err != nil {
		return 0, err
	}
	defer c.finishTurnLocked(seq)
	n := 0
	c.idx.Update(func(tx payload.Tx) {
		for _, id := range b.IDs {
			if node, ok := c.byID[id]; ok {
				c.unpublishLocked(node, tx)
				n++
			}
		}
	})
	c.live.Store(int64(len(c.byID)))
	return n, nil
}

// unpublishLocked removes a live node from the maps and the payload
// indexes (through tx) and tombstones it. The caller updates c.live.
func (c *Collection) unpublishLocked(node uint32, tx payload.Tx) {
	s := c.slot(node)
	tx.Unpublish(node, metaBytesOf(s.meta))
	delete(c.byID, s.id)
	c.idBytes -= int64(len(s.id))
	c.metaBytes -= s.metaBytes()
	c.setSlot(node, nil)
	// The node was added by this collection, so Delete cannot fail on a
	// bad id; a double delete is harmless.
	_ = c.graph.Delete(node)
}

func (c *Collection) alreadyApplied(seq uint64) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return seq <= c.applied
}

// waitTurnLocked blocks until every sequence number below seq is applied.
func (c *Collection) waitTurnLocked(seq uint64) error {
	for c.applied+1 < seq && c.failed == nil {
		c.turn.Wait()
	}
	if c.failed != nil {
		return c.failed
	}
	if c.applied >= seq {
		return fmt.Errorf("collection %s: sequence %d applied twice", c.cfg.Name, seq)
	}
	return nil
}

func (c *Collection) finishTurnLocked(seq uint64) {
	c.applied = seq
	c.turn.Broadcast()
}

// Fail stops the collection from applying further writes (used when the log
// in front of it fails): waiting and future writers get err.
func (c *Collection) Fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		c.failed = err
	}
	c.turn.Broadcast()
}

// batchFromLog turns a decoded log record back into a batch. The vectors
// were validated and normalised before they were logged.
func (c *Collection) batchFromLog(u record.Upsert) (UpsertBatch, error) {
	if u.Dim != c.cfg.Dimension {
		return UpsertBatch{}, fmt.Errorf("logged batch has dimension %d, collection has %d", u.Dim, c.cfg.Dimension)
	}
	b := UpsertBatch{Records: make([]Record, len(u.IDs)), meta: make([]string, len(u.IDs))}
	for i, id := range u.IDs {
		b.Records[i] = Record{ID: id, Vector: u.Vectors[i*u.Dim : (i+1)*u.Dim : (i+1)*u.Dim]}
		meta, err := canonicalMetadata(u.Metadata[i])
		if err != nil {
			return UpsertBatch{}, fmt.Errorf("metadata of %q: %w", id, err)
		}
		b.meta[i] = meta
	}
	return b, nil
}
