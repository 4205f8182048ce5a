package quant

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/akidb/akidb/engine/distance"
)

// Ranges says how a quantizer's value ranges are laid out.
type Ranges uint8

const (
	// RangesAuto trains both layouts and keeps the one whose codes rank a
	// held-out part of the sample better (Train); a trained quantizer is
	// never Auto.
	RangesAuto Ranges = iota
	// RangesCollection is one range for every dimension. Codes then
	// compare symmetrically: the L2 distance of two codes is the squared
	// step times an exact integer sum.
	RangesCollection
	// RangesDimension is one range per dimension, so a dimension with a
	// narrow spread keeps its resolution beside one with a wide spread.
	// Queries are compared asymmetrically (see Quantizer.Prepare).
	RangesDimension
)

// ParseRanges accepts the API's names: "auto" (or ""), "collection",
// "dimension".
func ParseRanges(s string) (Ranges, error) {
	switch s {
	case "", "auto":
		return RangesAuto, nil
	case "collection":
		return RangesCollection, nil
	case "dimension":
		return RangesDimension, nil
	}
	return 0, fmt.Errorf("unknown ranges %q (want auto, collection or dimension)", s)
}

func (r Ranges) String() string {
	switch r {
	case RangesAuto:
		return "auto"
	case RangesCollection:
		return "collection"
	case RangesDimension:
		return "dimension"
	}
	return fmt.Sprintf("ranges(%d)", uint8(r))
}

// MaxDim bounds the dimension Params accept (the engine's limit is lower).
const MaxDim = 16384

// MaxAbs bounds the ends of a range. Beyond it the squared step, and the
// distances built from it, would overflow float32; Train refuses data
// whose ranges reach that far, and such a collection stays in float32.
const MaxAbs = 1e18

// Params is a trained quantizer as it is stored: everything New needs to
// rebuild it, plus what training measured (for collection info).
type Params struct {
	Metric distance.Metric
	Ranges Ranges // RangesCollection or RangesDimension
	Dim    int
	// Lo and Hi bound each range: one pair for RangesCollection, Dim
	// pairs for RangesDimension. Values outside are clamped.
	Lo, Hi []float32
	// Sample is how many vectors training looked at, Population how many
	// the collection held then.
	Sample, Population int
	// BaselineClamp is the fraction of the sample's components outside the
	// ranges (the clipped tails); drift is measured against it.
	BaselineClamp float32
	// RecallCollection and RecallDimension are the held-out recall@10 of
	// each layout measured when Ranges was chosen automatically (0 when it
	// was not).
	RecallCollection, RecallDimension float32
}

// ErrInvalid is wrapped by every error about Params' content.
var ErrInvalid = errors.New("quant: invalid parameters")

// Validate checks Params for New and for decoding.
func (p Params) Validate() error {
	switch {
	case !p.Metric.Valid():
		return fmt.Errorf("%w: metric %d", ErrInvalid, uint8(p.Metric))
	case p.Dim < 1 || p.Dim > MaxDim:
		return fmt.Errorf("%w: dimension %d not in 1..%d", ErrInvalid, p.Dim, MaxDim)
	case p.Ranges != RangesCollection && p.Ranges != RangesDimension:
		return fmt.Errorf("%w: ranges %v", ErrInvalid, p.Ranges)
	case p.Sample < 0 || p.Population < 0:
		return fmt.Errorf("%w: negative sample or population", ErrInvalid)
	case !finite32(p.BaselineClamp) || p.BaselineClamp < 0 || p.BaselineClamp > 1:
		return fmt.Errorf("%w: baseline clamp fraction %v", ErrInvalid, p.BaselineClamp)
	case !finite32(p.RecallCollection) || !finite32(p.RecallDimension) ||
		p.RecallCollection < 0 || p.RecallCollection > 1 || p.RecallDimension < 0 || p.RecallDimension > 1:
		return fmt.Errorf("%w: measured recall out of [0, 1]", ErrInvalid)
	}
	want := 1
	if p.Ranges == RangesDimension {
		want = p.Dim
	}
	if len(p.Lo) != want || len(p.Hi) != want {
		return fmt.Errorf("%w: %d/%d ranges for %v ranges of dimension %d", ErrInvalid, len(p.Lo), len(p.Hi), p.Ranges, p.Dim)
	}
	for i := range p.Lo {
		lo, hi := p.Lo[i], p.Hi[i]
		if !finite32(lo) || !finite32(hi) || lo > hi || math.Abs(float64(lo)) > MaxAbs || math.Abs(float64(hi)) > MaxAbs {
			return fmt.Errorf("%w: range %d is [%v, %v]", ErrInvalid, i, lo, hi)
		}
	}
	return nil
}

func finite32(x float32) bool { return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) }

// paramsVersion is the version of the encoding below.
const paramsVersion = 1

// MarshalBinary encodes p (little-endian):
//
//	u8  version (1)
//	u8  metric (1 l2, 2 dot, 3 cosine)
//	u8  ranges (1 collection, 2 dimension)
//	u8  reserved, 0
//	u32 dim
//	u32 number of ranges R (1, or dim)
//	R x (f32 lo, f32 hi)
//	u64 sample, u64 population
//	f32 baseline clamp fraction
//	f32 recall (collection), f32 recall (dimension)
func (p Params) MarshalBinary() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	b := make([]byte, 0, 12+8*len(p.Lo)+28)
	b = append(b, paramsVersion, byte(p.Metric), byte(p.Ranges), 0)
	b = le.AppendUint32(b, uint32(p.Dim))
	b = le.AppendUint32(b, uint32(len(p.Lo)))
	for i := range p.Lo {
		b = le.AppendUint32(b, math.Float32bits(p.Lo[i]))
		b = le.AppendUint32(b, math.Float32bits(p.Hi[i]))
	}
	b = le.AppendUint64(b, uint64(p.Sample))
	b = le.AppendUint64(b, uint64(p.Population))
	b = le.AppendUint32(b, math.Float32bits(p.BaselineClamp))
	b = le.AppendUint32(b, math.Float32bits(p.RecallCollection))
	b = le.AppendUint32(b, math.Float32bits(p.RecallDimension))
	return b, nil
}

// UnmarshalBinary decodes MarshalBinary's output, validating everything;
// it never allocates more than the input's length implies.
func (p *Params) UnmarshalBinary(b []byte) error {
	le := binary.LittleEndian
	if len(b) < 12 {
		return fmt.Errorf("%w: %d bytes, too short", ErrInvalid, len(b))
	}
	if b[0] != paramsVersion {
		return fmt.Errorf("%w: version %d, this binary reads %d", ErrInvalid, b[0], paramsVersion)
	}
	if b[3] != 0 {
		return fmt.Errorf("%w: reserved byte is %d", ErrInvalid, b[3])
	}
	dim, n := le.Uint32(b[4:]), le.Uint32(b[8:])
	if dim > MaxDim || n > MaxDim {
		return fmt.Errorf("%w: dimension %d, %d ranges", ErrInvalid, dim, n)
	}
	if want := 12 + 8*int(n) + 28; len(b) != want {
		return fmt.Errorf("%w: %d bytes for %d ranges, want %d", ErrInvalid, len(b), n, want)
	}
	q := Params{Metric: distance.Metric(b[1]), Ranges: Ranges(b[2]), Dim: int(dim), Lo: make([]float32, n), Hi: make([]float32, n)}
	off := 12
	for i := range q.Lo {
		q.Lo[i] = math.Float32frombits(le.Uint32(b[off:]))
		q.Hi[i] = math.Float32frombits(le.Uint32(b[off+4:]))
		off += 8
	}
	sample, pop := le.Uint64(b[off:]), le.Uint64(b[off+8:])
	if sample > math.MaxInt32 || pop > math.MaxInt32 {
		return fmt.Errorf("%w: sample %d, population %d", ErrInvalid, sample, pop)
	}
	q.Sample, q.Population = int(sample), int(pop)
	q.BaselineClamp = math.Float32frombits(le.Uint32(b[off+16:]))
	q.RecallCollection = math.Float32frombits(le.Uint32(b[off+20:]))
	q.RecallDimension = math.Float32frombits(le.Uint32(b[off+24:]))
	if err := q.Validate(); err != nil {
		return err
	}
	*p = q
	return nil
}
