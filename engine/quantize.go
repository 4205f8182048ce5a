package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/akidb/akidb/engine/hnsw"
	"github.com/akidb/akidb/engine/mapped"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/quant"
	"github.com/akidb/akidb/engine/vecfile"
	"github.com/akidb/akidb/engine/wal"
)

// Quantization settings (the API's names; meta stores the same strings).
const (
	QuantNone = meta.QuantNone
	QuantInt8 = meta.QuantInt8

	OriginalsMemory = meta.OriginalsMemory
	OriginalsDisk   = meta.OriginalsDisk

	RangesAuto       = meta.RangesAuto
	RangesCollection = meta.RangesCollection
	RangesDimension  = meta.RangesDimension
)

// Quantization is a collection's quantization settings: int8 codes that
// the graph traverses (Type), where the float32 originals that re-rank
// the best candidates live (Originals: memory, or a vectors file read with
// pread), and how the codes' ranges are laid out (Ranges; auto measures).
// The zero value is no quantization. See docs/quantization.md.
type Quantization struct {
	Type      string `json:"type"`
	Originals string `json:"originals"`
	Ranges    string `json:"ranges"`
}

// withDefaults fills empty fields and validates the settings.
func (q Quantization) withDefaults() (Quantization, error) {
	if q.Type == "" {
		q.Type = QuantNone
	}
	if q.Originals == "" {
		q.Originals = OriginalsMemory
	}
	if q.Ranges == "" {
		q.Ranges = RangesAuto
	}
	switch {
	case q.Type != QuantNone && q.Type != QuantInt8:
		return q, invalid("quantization.type", "must be none or int8, got %q", q.Type)
	case q.Originals != OriginalsMemory && q.Originals != OriginalsDisk:
		return q, invalid("quantization.originals", "must be memory or disk, got %q", q.Originals)
	case q.Ranges != RangesAuto && q.Ranges != RangesCollection && q.Ranges != RangesDimension:
		return q, invalid("quantization.ranges", "must be auto, collection or dimension, got %q", q.Ranges)
	case q.Type == QuantNone && q.Originals == OriginalsDisk:
		return q, invalid("quantization.originals", "disk needs quantization type int8: an unquantized collection searches its float32 vectors, so they stay in memory")
	}
	return q, nil
}

func (q Quantization) meta() meta.Quantization {
	return meta.Quantization{Type: q.Type, Originals: q.Originals, Ranges: q.Ranges}
}

// Quantization states reported in QuantizationStatus.State.
const (
	QuantStateOff     = "off"     // no quantization asked for, none left
	QuantStateWaiting = "waiting" // int8 asked for; fewer than quant.MinTrain vectors to train on
	QuantStateWorking = "working" // re-encoding or moving vectors in the background (Step says what)
	QuantStateReady   = "ready"   // the collection is as its settings ask
	QuantStateFailed  = "failed"  // the last attempt failed (Error); retried at the next checkpoint
	// QuantStateNotLoaded: the collection is not in memory (evicted by
	// the tier) and its state is not known until it is loaded.
	QuantStateNotLoaded = "not_loaded"
	quantStepTrain      = "training"
	quantStepEncode     = "encoding"
	quantStepWrite      = "writing originals to disk"
	quantStepLoad       = "loading originals into memory"
	quantStepDropCodes  = "dropping codes"
)

// QuantizationStatus is the state of a collection's quantization as its
// stats report it (the settings are in its config): what the background
// work is doing, and what training found.
type QuantizationStatus struct {
	// State: off, waiting, working, ready or failed (QuantState*).
	State string `json:"state"`
	// Step and Progress (0..1) describe the background work while State is
	// working.
	Step     string  `json:"step,omitempty"`
	Progress float64 `json:"progress"`
	// Traversing: searches measure int8 codes now; OriginalsOnDisk: the
	// float32 vectors are out of memory, in the vectors file.
	Traversing      bool `json:"traversing"`
	OriginalsOnDisk bool `json:"originals_on_disk"`
	// RangesInUse is the layout training chose (collection or dimension);
	// RecallCollection/RecallDimension what it measured when it chose
	// (ranges auto), TrainedOn the sample size, TrainedAt when.
	RangesInUse      string    `json:"ranges_in_use,omitempty"`
	RecallCollection float64   `json:"recall_collection,omitempty"`
	RecallDimension  float64   `json:"recall_dimension,omitempty"`
	TrainedOn        int       `json:"trained_on,omitempty"`
	TrainedAt        time.Time `json:"trained_at,omitzero"`
	// ClampedFraction is the share of vector components encoded since
	// training that fell outside the ranges (retraining follows at a
	// checkpoint when it grows well past the training sample's own).
	ClampedFraction float64 `json:"clamped_fraction"`
	Retrains        int     `json:"retrains"`
	Error           string  `json:"error,omitempty"`
}

// quantizer is a collection's quantization machinery: its settings, the
// quantizers behind the graph's spaces, the vectors file, and the one
// background job that brings the graph to the settings (runQuant).
type quantizer struct {
	mu     sync.Mutex
	target Quantization
	// spaces mirrors the graph's spaces by index (the graph holds them as
	// hnsw.Space; snapshots need their Params).
	spaces [2]*quant.Quantizer
	// vectors is the vectors file the graph reads (originals on disk) or
	// is filling; nil otherwise. fsys and dir say where vectors files go
	// ("" for an in-memory collection, which cannot keep them on disk).
	vectors *vecfile.File
	fsys    wal.FS
	dir     string
	nextGen uint64
	// making holds generations handed out whose file is being made (not
	// yet the live one): pruning leaves them alone.
	making map[uint64]bool
	// Job state: running, asked to look again when done (again), to stop
	// (stop), a retrain asked for (retrain: the reason), and done is
	// closed when the running job ends.
	running bool
	again   bool
	stop    bool
	retrain string
	done    chan struct{}
	status  QuantizationStatus
	// trainings counts quantizers trained by this process (tests check
	// that a restart does not re-encode).
	trainings int
	// paused: jobs are not started (while the log is replayed at open,
	// and for good in read-only readers); resume lifts it.
	paused bool
	// jobMu is held by a running job; a vacuum skips when it cannot take
	// it (the graph refuses to vacuum during an encoding).
	jobMu sync.Mutex
	// onTrain, set by tests, is called by a training once it has read
	// the ranges setting, before it fits the quantizer.
	onTrain func()
	logger  *slog.Logger
	// arena holds the graph's lists and codes in file-backed memory
	// (mappedmem.go); nil: the heap.
	arena *mapped.Arena
	now   func() time.Time
}

func (c *Collection) initQuant(target Quantization) {
	c.q.target = target
	c.q.logger = slog.New(slog.DiscardHandler)
	c.q.now = time.Now
	c.q.status.State = QuantStateOff
	if target.Type == QuantInt8 {
		c.q.status.State = QuantStateWaiting
	}
}

// SetVectorsDir says where the collection keeps vectors files (originals
// on disk), through fsys. An in-memory collection without one refuses
// "originals": "disk".
func (c *Collection) SetVectorsDir(fsys wal.FS, dir string) {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	c.q.fsys, c.q.dir = fsys, dir
}

// configureQuant sets what a collection loaded from a snapshot (which
// records the state, not the settings) needs to go on: its settings, its
// vectors directory and its logger. Jobs stay paused until resumeQuant.
func (c *Collection) configureQuant(target Quantization, fsys wal.FS, dir string, logger *slog.Logger) {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	c.q.target = target
	c.q.fsys, c.q.dir = fsys, dir
	c.q.logger = logger
	c.q.paused = true
	if target.Type == QuantInt8 {
		c.q.status.State = QuantStateWaiting
	}
}

// resumeQuant lets jobs start again and starts one, which finds out what,
// if anything, the collection lacks.
func (c *Collection) resumeQuant() {
	c.q.mu.Lock()
	c.q.paused = false
	c.q.mu.Unlock()
	c.startQuant()
}

// vectorsFile returns the open vectors file (nil if none).
func (c *Collection) vectorsFile() *vecfile.File {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.q.vectors
}

// closeVectors closes the vectors file, after the job has stopped, and
// gives back the graph's file-backed memory if it has some: the
// collection is leaving memory (or was never installed), and its graph is
// empty from now on.
func (c *Collection) closeVectors() error {
	c.q.mu.Lock()
	vf := c.q.vectors
	c.q.vectors = nil
	c.q.mu.Unlock()
	err := c.releaseArena()
	if vf != nil {
		return errors.Join(vf.Close(), err)
	}
	return err
}

func (c *Collection) quantLogger() *slog.Logger {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.q.logger
}

// SetQuantization changes the collection's quantization settings and
// starts the background work that re-encodes it (QuantizationStatus
// reports it). Searches keep working throughout.
func (c *Collection) SetQuantization(q Quantization) error {
	q, err := q.withDefaults()
	if err != nil {
		return err
	}
	c.q.mu.Lock()
	if q.Originals == OriginalsDisk && c.q.dir == "" {
		c.q.mu.Unlock()
		return invalid("quantization.originals", "disk needs a collection with a data directory")
	}
	c.q.target = q
	if cur := c.curQuantizerLocked(); cur != nil && otherRanges(q, cur) {
		c.q.retrain = rangesChanged
	}
	c.q.mu.Unlock()
	c.startQuant()
	return nil
}

// rangesChanged is the reason of a retraining for a new ranges setting.
const rangesChanged = "ranges setting changed"

// otherRanges reports whether settings t ask for a ranges layout other
// than the one quantizer q was trained with (auto accepts either).
func otherRanges(t Quantization, q *quant.Quantizer) bool {
	return t.Type == QuantInt8 && t.Ranges != RangesAuto && t.Ranges != q.Params().Ranges.String()
}

// QuantizationStatus reports the settings and the background work.
func (c *Collection) QuantizationStatus() QuantizationStatus {
	qi := c.graph.QuantInfo()
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	st := c.q.status
	if st.State == QuantStateWaiting && c.q.target.Type == QuantInt8 && !c.q.running {
		// The count as it is now: the step was written when the job last
		// looked (or never, right after the create).
		if live := int(c.live.Load()); live < quant.MinTrain {
			st.Step = waitingStep(live)
		}
	}
	st.Traversing = qi.Traversing
	st.OriginalsOnDisk = !qi.Floats
	if cur := c.curQuantizerLocked(); cur != nil {
		p := cur.Params()
		st.RangesInUse = p.Ranges.String()
		st.RecallCollection, st.RecallDimension = float64(p.RecallCollection), float64(p.RecallDimension)
		st.TrainedOn = p.Sample
		st.ClampedFraction = cur.Drift().Fraction
	}
	return st
}

// curQuantizerLocked is the quantizer the graph writes new codes with;
// c.q.mu must be held.
func (c *Collection) curQuantizerLocked() *quant.Quantizer {
	idx, ok := c.graph.CurrentSpace()
	if !ok {
		return nil
	}
	return c.q.spaces[idx]
}

// WaitQuantization blocks until no background quantization work is
// running (or queued), and returns the status then.
func (c *Collection) WaitQuantization() QuantizationStatus {
	for {
		c.q.mu.Lock()
		done := c.q.done
		running := c.q.running
		c.q.mu.Unlock()
		if !running {
			return c.QuantizationStatus()
		}
		<-done
	}
}

// startQuant starts the background job, or asks the running one to look
// again when it is done.
func (c *Collection) startQuant() {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	if c.q.stop || c.q.paused {
		return
	}
	if c.q.running {
		c.q.again = true
		return
	}
	c.q.running = true
	c.q.done = make(chan struct{})
	go c.runQuant()
}

// stopQuant stops the background job at its next step and waits for it;
// no new one starts.
func (c *Collection) stopQuant() {
	c.q.mu.Lock()
	c.q.stop = true
	done, running := c.q.done, c.q.running
	c.q.mu.Unlock()
	if running {
		<-done
	}
}

func (c *Collection) quantStopped() bool {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.q.stop
}

func (c *Collection) setQuantStep(state, step string, progress float64) {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	c.q.status.State, c.q.status.Step, c.q.status.Progress = state, step, progress
	if state != QuantStateFailed {
		c.q.status.Error = ""
	}
}

func (c *Collection) progressOf(step string) func(done, total int) {
	return func(done, total int) {
		c.setQuantStep(QuantStateWorking, step, float64(done)/float64(max(total, 1)))
	}
}

// runQuant is the background job: it takes steps towards the settings
// until it is there (or must wait for more vectors), then ends, unless it
// was asked to look again meanwhile.
func (c *Collection) runQuant() {
	c.q.jobMu.Lock()
	defer func() {
		c.q.jobMu.Unlock()
		c.q.mu.Lock()
		c.q.running = false
		close(c.q.done)
		c.q.mu.Unlock()
	}()
	for {
		err := c.quantSteps()
		c.q.mu.Lock()
		switch {
		case errors.Is(err, hnsw.ErrStopped) || c.q.stop:
			c.q.mu.Unlock()
			return
		case err != nil:
			c.q.status.State, c.q.status.Step, c.q.status.Error = QuantStateFailed, "", err.Error()
			c.q.logger.Error("quantization failed", "collection", c.cfg.Name, "err", err)
		}
		again := c.q.again
		c.q.again = false
		c.q.mu.Unlock()
		if !again {
			return
		}
	}
}

// quantSteps brings the graph to the settings, one step at a time.
func (c *Collection) quantSteps() error {
	stop := c.quantStopped
	for {
		if stop() {
			return hnsw.ErrStopped
		}
		c.q.mu.Lock()
		target, retrain := c.q.target, c.q.retrain
		c.q.mu.Unlock()
		qi := c.graph.QuantInfo()
		encodingUnderWay := qi.Encoding && (!qi.Traversing || qi.Spaces == 2)
		switch {
		case target.Type == QuantNone && !qi.Floats:
			if err := c.graph.LoadFloats(stop, c.progressOf(quantStepLoad)); err != nil {
				return err
			}
		case target.Type == QuantNone && qi.Originals:
			if err := c.forgetVectorsFile(); err != nil {
				return err
			}
		case target.Type == QuantNone && qi.Encoding:
			c.setQuantStep(QuantStateWorking, quantStepDropCodes, 0)
			if err := c.graph.DropCodes(); err != nil {
				return err
			}
			c.q.mu.Lock()
			c.q.spaces = [2]*quant.Quantizer{}
			c.q.mu.Unlock()
		case target.Type == QuantNone:
			c.setQuantStep(QuantStateOff, "", 0)
			return nil
		case encodingUnderWay:
			if err := c.graph.EncodeChunks(stop, c.progressOf(quantStepEncode)); err != nil {
				return err
			}
			if err := c.graph.FinishEncoding(); err != nil {
				return err
			}
			c.q.mu.Lock()
			if idx, ok := c.graph.CurrentSpace(); ok {
				c.q.spaces[1-idx] = nil
			}
			c.q.mu.Unlock()
		case qi.Encoding && retrain != "" && int(c.live.Load()) < quant.MinTrain:
			// Too few vectors left to retrain on: keep the codes.
			c.q.mu.Lock()
			c.q.retrain = ""
			c.q.mu.Unlock()
		case !qi.Encoding || retrain != "":
			trained, err := c.train(retrain)
			if err != nil || !trained {
				return err // not trained: too few vectors, waiting
			}
		case target.Originals == OriginalsDisk && qi.Floats:
			if err := c.moveOriginalsToDisk(stop); err != nil {
				return err
			}
		case target.Originals == OriginalsMemory && !qi.Floats:
			if err := c.graph.LoadFloats(stop, c.progressOf(quantStepLoad)); err != nil {
				return err
			}
		case target.Originals == OriginalsMemory && qi.Originals:
			if err := c.forgetVectorsFile(); err != nil {
				return err
			}
		default:
			c.setQuantStep(QuantStateReady, "", 1)
			return nil
		}
	}
}

// waitingStep is the status step of a collection waiting for enough
// vectors to train on.
func waitingStep(live int) string {
	return fmt.Sprintf("training needs %d vectors, the collection has %d", quant.MinTrain, live)
}

// train fits a quantizer to a sample of the live vectors and begins
// encoding in it. It reports false (and sets the waiting state) when the
// collection has too few vectors.
func (c *Collection) train(reason string) (bool, error) {
	live := int(c.live.Load())
	if live < quant.MinTrain {
		c.setQuantStep(QuantStateWaiting, waitingStep(live), 0)
		c.q.mu.Lock()
		c.q.retrain = ""
		c.q.mu.Unlock()
		return false, nil
	}
	c.setQuantStep(QuantStateWorking, quantStepTrain, 0)
	sample, err := c.sampleVectors(quant.SampleSize)
	if err != nil {
		return false, err
	}
	c.q.mu.Lock()
	rg, _ := quant.ParseRanges(c.q.target.Ranges)
	hook := c.q.onTrain
	c.q.mu.Unlock()
	if hook != nil {
		hook()
	}
	qz, err := quant.Train(sample, c.cfg.Metric, rg, live)
	if err != nil {
		return false, fmt.Errorf("collection %s: train: %w", c.cfg.Name, err)
	}
	if err := c.graph.BeginEncoding(qz); err != nil {
		return false, err
	}
	idx, _ := c.graph.CurrentSpace()
	c.q.mu.Lock()
	c.q.spaces[idx] = qz
	c.q.trainings++
	if reason != "" {
		c.q.status.Retrains++
	}
	// The request this training answers is done. A ranges setting
	// changed after it was read above asks for another training:
	// clearing the request would lose that one, and the collection would
	// keep the old layout.
	c.q.retrain = ""
	if otherRanges(c.q.target, qz) {
		c.q.retrain = rangesChanged
	}
	c.q.status.TrainedAt = c.q.now().UTC()
	c.q.mu.Unlock()
	c.q.logger.Info("quantizer trained", "collection", c.cfg.Name, "sample", len(sample), "ranges", qz.Params().Ranges.String(),
		"recall_collection", qz.Params().RecallCollection, "recall_dimension", qz.Params().RecallDimension, "reason", reason)
	return true, nil
}

// sampleVectors returns up to n live vectors, evenly spaced over the
// nodes (copies: the arena's, or read from the vectors file).
func (c *Collection) sampleVectors(n int) ([][]float32, error) {
	tab := c.slots.Load()
	nodes := min(tab.nodes(), c.graph.Len())
	live := max(1, int(c.live.Load()))
	step := max(1, live/n)
	out := make([][]float32, 0, min(n, live))
	seen := 0
	for node := 0; node < nodes && len(out) < n; node++ {
		if tab.get(uint32(node)) == nil {
			continue
		}
		if seen++; (seen-1)%step != 0 {
			continue
		}
		v, err := c.graph.ReadVector(nil, uint32(node))
		if err != nil {
			return nil, err
		}
		if len(v) == c.cfg.Dimension {
			out = append(out, v)
		}
	}
	return out, nil
}

// moveOriginalsToDisk writes the vectors to a new vectors file, makes it
// durable, and frees them from memory.
func (c *Collection) moveOriginalsToDisk(stop func() bool) error {
	c.q.mu.Lock()
	vf := c.q.vectors
	fsys, dir := c.q.fsys, c.q.dir
	c.q.mu.Unlock()
	if dir == "" {
		return fmt.Errorf("collection %s: originals on disk need a data directory", c.cfg.Name)
	}
	if vf == nil {
		gen, err := c.newVectorsGen()
		if err != nil {
			return err
		}
		vf, err = vecfile.Create(fsys, dir, gen, c.cfg.Dimension)
		c.q.mu.Lock()
		delete(c.q.making, gen)
		if err == nil {
			c.q.vectors = vf
		}
		c.q.mu.Unlock()
		if err != nil {
			return err
		}
		if err := c.graph.SetOriginals(vf); err != nil {
			return err
		}
	}
	if err := c.graph.WriteOriginals(stop, c.progressOf(quantStepWrite)); err != nil {
		return err
	}
	if err := vf.Sync(); err != nil {
		return err
	}
	return c.graph.DropFloats()
}

// forgetVectorsFile stops sending new vectors to the vectors file (the
// arena holds them all). The file stays until no kept snapshot names it.
func (c *Collection) forgetVectorsFile() error {
	if err := c.graph.SetOriginals(nil); err != nil {
		return err
	}
	c.q.mu.Lock()
	vf := c.q.vectors
	c.q.vectors = nil
	c.q.mu.Unlock()
	if vf != nil {
		return vf.Close()
	}
	return nil
}

// newVectorsGen returns a generation above every vectors file in the
// directory and marks it as being made (the caller clears the mark once
// the file is live or given up).
func (c *Collection) newVectorsGen() (uint64, error) {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	gens, err := vecfile.List(c.q.fsys, c.q.dir)
	if err != nil {
		return 0, err
	}
	next := c.q.nextGen
	for _, g := range gens {
		next = max(next, g+1)
	}
	next = max(next, 1)
	c.q.nextGen = next + 1
	if c.q.making == nil {
		c.q.making = make(map[uint64]bool)
	}
	c.q.making[next] = true
	return next, nil
}

// maybeStartQuant, after each write, starts the job when int8 is asked
// for, nothing is trained yet and the collection has just reached
// quant.MinTrain vectors; and it retrains as soon as the current
// quantizer has drifted (rather than at the next checkpoint), so that
// the data is clamped, searched on poor codes and linked the slow way
// (engine/hnsw's linkvecs.go) for as short a time as it can be. Not
// before promptRetrainShare of the collection was written since the
// training, though: data that keeps moving would otherwise have the
// whole collection re-encoded every quant.MinTrain writes; so each write
// pays for at most 1/promptRetrainShare re-encodings.
func (c *Collection) maybeStartQuant() {
	if c.live.Load() < quant.MinTrain {
		return
	}
	c.q.mu.Lock()
	idle := c.q.target.Type == QuantInt8 && !c.q.running
	waiting := idle && c.q.status.State == QuantStateWaiting
	drifted := false
	if idle && !waiting && c.q.retrain == "" {
		if cur := c.curQuantizerLocked(); cur != nil && cur.Drifted() &&
			cur.Drift().Encoded/int64(c.cfg.Dimension) >= c.live.Load()/promptRetrainShare {
			c.q.retrain, drifted = driftReason(cur), true
		}
	}
	c.q.mu.Unlock()
	if waiting || drifted {
		c.startQuant()
	}
}

// promptRetrainShare: a drift is retrained after a write (not only at a
// checkpoint) once 1/promptRetrainShare of the collection was written
// since the training.
const promptRetrainShare = 10

func driftReason(q *quant.Quantizer) string {
	return fmt.Sprintf("drift: %.2f%% of the components encoded since training were clamped", 100*q.Drift().Fraction)
}

// Retraining at a checkpoint (checkRetrain; a drift is also caught after
// each write, maybeStartQuant): when the data has drifted out of the
// ranges (quant.Quantizer.Drifted), or when the collection has
// grown to growthRetrain times the population the quantizer was trained
// on while that training sample was smaller than quant.SampleSize (the
// first training, at quant.MinTrain vectors, saw little of what came).
const growthRetrain = 4

// checkRetrain asks for a retraining when the current quantizer is due
// one; it is called after a checkpoint.
func (c *Collection) checkRetrain() {
	c.q.mu.Lock()
	cur := c.curQuantizerLocked()
	target := c.q.target
	failed := c.q.status.State == QuantStateFailed
	c.q.mu.Unlock()
	if target.Type != QuantInt8 {
		if failed || c.graph.QuantInfo().Encoding {
			c.startQuant()
		}
		return
	}
	reason := ""
	switch {
	case cur == nil:
		// Not trained yet (or a failed attempt): try again.
	case cur.Drifted():
		reason = driftReason(cur)
	case cur.Params().Sample < quant.SampleSize && int(c.live.Load()) >= growthRetrain*cur.Params().Population:
		reason = fmt.Sprintf("growth: %d vectors, trained when there were %d", c.live.Load(), cur.Params().Population)
	case !failed:
		return
	}
	c.q.mu.Lock()
	if reason != "" {
		c.q.retrain = reason
	}
	c.q.mu.Unlock()
	c.startQuant()
}

// RetrainIfDue does for an in-memory collection what a durable one does
// after each checkpoint: it asks for a retraining when the quantizer is
// due one (drift, or growth since a first training on few vectors). The
// work runs in the background (WaitQuantization waits for it).
func (c *Collection) RetrainIfDue() { c.checkRetrain() }

// CloseQuantization stops an in-memory collection's background
// quantization work and closes its vectors file (SetVectorsDir): vectors
// kept on disk can no longer be read. A DB closes its own collections.
func (c *Collection) CloseQuantization() error {
	c.stopQuant()
	return c.closeVectors()
}
