package hnsw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/quant"
)

// smallGraph has upper layers (M=4 gives ~1/4 of nodes a level >= 1),
// tombstones, and lists with padding, in a few hundred bytes per node.
func smallGraph(t testing.TB, n int) *Graph {
	data := clustered(71, n, 4, 3)
	g := build(t, Config{Dim: 4, Metric: distance.L2, M: 4, EfConstruction: 16, Seed: 3, InitialCapacity: 10}, data)
	for id := 0; id < n; id += 7 {
		if err := g.Delete(uint32(id)); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	data := clustered(72, 3000, 24, 20)
	g := build(t, Config{Dim: 24, Metric: distance.Cosine, M: 12, EfConstruction: 80, Seed: 9}, data)
	for id := uint32(0); id < 3000; id += 5 {
		if err := g.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	b := encode(t, g)
	d, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if d.Config() != g.Config() || d.Len() != g.Len() || d.Deleted() != g.Deleted() || d.MemoryBytes() != g.MemoryBytes() {
		t.Fatalf("decoded config %+v len %d deleted %d mem %d, want %+v %d %d %d", d.Config(), d.Len(), d.Deleted(),
			d.MemoryBytes(), g.Config(), g.Len(), g.Deleted(), g.MemoryBytes())
	}
	for i, q := range clustered(73, 50, 24, 20) {
		a, b := g.Search(q, 10, 40, nil), d.Search(q, 10, 40, nil)
		if len(a) != len(b) {
			t.Fatalf("query %d: %v vs %v", i, a, b)
		}
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("query %d: %v vs %v", i, a, b)
			}
		}
	}
	if !bytes.Equal(encode(t, d), b) {
		t.Fatal("re-encoding the decoded graph changed the bytes")
	}
	// The level generator continues where it left off: adding the same
	// vector to both graphs gives the same result.
	ia, _ := g.Add(data[1])
	ib, _ := d.Add(data[1])
	if ia != ib || !bytes.Equal(encode(t, g), encode(t, d)) {
		t.Fatal("graphs diverged after the same Add")
	}
}

func TestDecodeReadsExactly(t *testing.T) {
	b := encode(t, smallGraph(t, 50))
	r := bytes.NewReader(append(append([]byte{}, b...), "tail"...))
	if _, err := Decode(r); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "tail" {
		t.Fatalf("Decode consumed into the following data; left %q", rest)
	}
	if _, err := Decode(bytes.NewReader(encode(t, mustNew(t, Config{Dim: 3, Metric: distance.L2})))); err != nil {
		t.Fatalf("empty graph: %v", err)
	}
}

func TestDecodeTruncated(t *testing.T) {
	b := encode(t, smallGraph(t, 60))
	for n := 0; n < len(b); n++ {
		_, err := Decode(bytes.NewReader(b[:n]))
		if !errors.Is(err, ErrCorrupt) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("prefix of %d/%d bytes: err %v, want ErrCorrupt and ErrUnexpectedEOF", n, len(b), err)
		}
	}
}

// TestDecodeCorruptBytes flips every byte of a small encoding in turn. Each
// result must either be rejected or be a graph that works; nothing panics.
func TestDecodeCorruptBytes(t *testing.T) {
	b := encode(t, smallGraph(t, 40))
	c := make([]byte, len(b))
	for i := range b {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			copy(c, b)
			c[i] ^= x
			decodeAndExercise(t, c)
		}
	}
}

// decodeAndExercise decodes b; if that succeeds the graph must search, take
// adds and deletes, vacuum and re-encode to the very bytes it came from
// (the encoding is canonical).
func decodeAndExercise(t *testing.T, b []byte) {
	r := bytes.NewReader(b)
	g, err := Decode(r)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", err)
		}
		return
	}
	used := b[:len(b)-r.Len()]
	if again := encode(t, g); !bytes.Equal(again, used) {
		t.Fatalf("decoded graph re-encodes differently (%d vs %d bytes)", len(again), len(used))
	}
	if !g.QuantInfo().Floats {
		// Without vectors (the originals were on disk) a graph is usable
		// only once RestoreQuantization gives it its spaces and store,
		// which the engine does from the state's quantization section.
		return
	}
	q := make([]float32, g.Config().Dim)
	g.Search(q, 3, 8, nil)
	g.ExactSearch(q, 3, nil)
	if _, err := g.Add(q); err != nil {
		t.Fatal(err)
	}
	if g.Len() > 1 {
		if err := g.Delete(0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.Vacuum(); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, g)
}

func TestDecodeRejects(t *testing.T) {
	g := smallGraph(t, 30)
	good := encode(t, g)
	n := g.Len()
	dim := g.Config().Dim
	levelsOff := headerLen
	tombOff := levelsOff + n
	vecOff := tombOff + (n+7)/8
	l0Off := vecOff + 4*n*dim
	stride0 := 2*g.Config().M + 1
	le := binary.LittleEndian
	// A node with a non-empty layer-0 row to tamper with.
	node := 1
	row := l0Off + 4*node*stride0
	if le.Uint32(good[row:]) < 2 {
		t.Fatal("test graph: node 1 has fewer than 2 neighbours")
	}
	cases := []struct {
		name string
		edit func(b []byte)
	}{
		{"magic", func(b []byte) { b[0] = 'X' }},
		{"version", func(b []byte) { le.PutUint16(b[4:], 3) }},
		{"version 1 with flags", func(b []byte) { le.PutUint16(b[4:], 1); b[13] = flagCodes }},
		{"unknown flag", func(b []byte) { b[13] = 0x80 }},
		{"header length", func(b []byte) { le.PutUint16(b[6:], 65) }},
		{"dim zero", func(b []byte) { le.PutUint32(b[8:], 0) }},
		{"dim huge", func(b []byte) { le.PutUint32(b[8:], MaxDim+1) }},
		{"metric", func(b []byte) { b[12] = 7 }},
		{"no vectors and no codes", func(b []byte) { b[13] = flagNoVectors }},
		{"reserved", func(b []byte) { b[20] = 1 }},
		{"M", func(b []byte) { le.PutUint16(b[14:], 1) }},
		{"M zero", func(b []byte) { le.PutUint16(b[14:], 0) }},
		{"efc", func(b []byte) { le.PutUint32(b[16:], 0) }},
		{"count over max", func(b []byte) { le.PutUint32(b[48:], MaxNodes+1) }},
		{"deleted over count", func(b []byte) { le.PutUint32(b[52:], uint32(n+1)) }},
		{"deleted mismatch", func(b []byte) { le.PutUint32(b[52:], le.Uint32(b[52:])-1) }},
		{"entry out of range", func(b []byte) { le.PutUint32(b[56:], uint32(n)) }},
		{"top level wrong", func(b []byte) { le.PutUint32(b[60:], le.Uint32(b[60:])+1) }},
		{"level over cap", func(b []byte) { b[levelsOff+2] = maxLevel + 1 }},
		{"NaN", func(b []byte) { le.PutUint32(b[vecOff+8:], math.Float32bits(float32(math.NaN()))) }},
		{"Inf", func(b []byte) { le.PutUint32(b[vecOff+8:], math.Float32bits(float32(math.Inf(1)))) }},
		{"count over M0", func(b []byte) { le.PutUint32(b[row:], uint32(stride0)) }},
		{"neighbour out of range", func(b []byte) { le.PutUint32(b[row+4:], uint32(n)) }},
		{"self link", func(b []byte) { le.PutUint32(b[row+4:], uint32(node)) }},
		{"duplicate", func(b []byte) { copy(b[row+8:row+12], b[row+4:row+8]) }},
		{"padding", func(b []byte) { le.PutUint32(b[row+4*(stride0-1):], 1) }},
		{"trailer", func(b []byte) { b[len(b)-1] ^= 1 }},
	}
	for _, tc := range cases {
		b := append([]byte{}, good...)
		tc.edit(b)
		if _, err := Decode(bytes.NewReader(b)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", tc.name, err)
		}
	}
}

// TestDecodeBoundedAllocation: a header claiming the largest graph, backed
// by a few bytes, must fail without allocating anything like its claim.
func TestDecodeBoundedAllocation(t *testing.T) {
	b := encode(t, mustNew(t, Config{Dim: MaxDim, Metric: distance.L2, M: MaxM}))
	le := binary.LittleEndian
	le.PutUint32(b[48:], MaxNodes)
	le.PutUint32(b[56:], 0)
	b = b[:len(b)-4] // drop the trailer
	b = append(b, make([]byte, MaxNodes/100)...)[:len(b)+1000]
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Decode(bytes.NewReader(b)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err %v", err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Fatalf("Decode of a %d-byte input allocated %d MiB", len(b), got>>20)
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("disk full")
	}
	w.after--
	return len(p), nil
}

func TestEncodeWriteError(t *testing.T) {
	g := build(t, Config{Dim: 512, Metric: distance.L2, M: 4, EfConstruction: 8}, clustered(74, 1000, 512, 4))
	for after := range 2 {
		if err := g.Encode(&failWriter{after: after}); err == nil {
			t.Fatalf("Encode with a writer failing after %d writes succeeded", after)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(f, mustNew(f, Config{Dim: 2, Metric: distance.InnerProduct})))
	f.Add(encode(f, build(f, Config{Dim: 3, Metric: distance.L2}, [][]float32{{1, 2, 3}})))
	f.Add(encode(f, smallGraph(f, 25)))
	f.Add(encode(f, smallGraph(f, 25))[:200])
	// Quantized: codes with the vectors, and codes alone (originals on
	// disk).
	data := clustered(5, 300, 6, 3)
	qg := build(f, Config{Dim: 6, Metric: distance.L2, M: 4, EfConstruction: 16, Seed: 2}, data)
	quantize(f, qg, train(f, data, distance.L2, quant.RangesDimension))
	f.Add(encode(f, qg))
	toDisk(f, qg, &memOriginals{dim: 6})
	f.Add(encode(f, qg))
	f.Add([]byte("AKHG"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeAndExercise(t, b)
	})
}

// TestAbandonedNodeAboveTheEntryEncodes: a reserved node given up after it
// drew a level above the entry point's still leaves a graph that encodes
// and decodes (its level is dropped with it). Before, the snapshot's
// levels said a higher top than its entry point and the decoder refused
// it: a checkpoint after a refused write was lost about once in a hundred.
func TestAbandonedNodeAboveTheEntryEncodes(t *testing.T) {
	g := mustNew(t, Config{Dim: 2, Metric: distance.L2, M: 4, EfConstruction: 8, Seed: 5})
	if _, err := g.Add([]float32{0, 0}); err != nil {
		t.Fatal(err)
	}
	_, top := unpackEntry(g.entry.Load())
	abandoned := 0
	for i := 0; abandoned == 0; i++ {
		if i == 10000 {
			t.Fatal("no reserved node drew a level above the entry point's")
		}
		id, err := g.Reserve([]float32{float32(i), 1})
		if err != nil {
			t.Fatal(err)
		}
		level := levelOfMeta(metaOf(g.table.Load().chunks, id))
		if level <= top {
			g.Link(id)
			continue
		}
		g.Abandon(id)
		abandoned++
	}
	d, err := Decode(bytes.NewReader(encode(t, g)))
	if err != nil {
		t.Fatalf("a graph with an abandoned node above the entry point: %v", err)
	}
	if d.Len() != g.Len() || d.Deleted() != 1 {
		t.Fatalf("decoded %d nodes, %d deleted; the graph has %d, 1 deleted", d.Len(), d.Deleted(), g.Len())
	}
}

// TestCodesEncodedAfterTrainingRoundTrip: with the vectors in memory, the
// nodes added after the training (whose components fall outside the
// trained ranges and are clamped) come back from an encoding with the
// codes and correction terms they had, and the decoded graph answers
// exactly as the original did: a reload needs no re-encoding.
func TestCodesEncodedAfterTrainingRoundTrip(t *testing.T) {
	data := clustered(43, 1500, 16, 10)
	for _, v := range data[1000:] {
		for i := range v {
			v[i] *= 3 // beyond the ranges trained on the first 1000
		}
	}
	queries := clustered(44, 30, 16, 10)
	g := build(t, Config{Dim: 16, Metric: distance.L2, M: 8, EfConstruction: 64, Seed: 9}, data[:1000])
	sp := train(t, data[:1000], distance.L2, quant.RangesDimension)
	quantize(t, g, sp)
	for i, v := range data[1000:] {
		if _, err := g.Add(v); err != nil {
			t.Fatalf("Add %d: %v", 1000+i, err)
		}
	}
	if d := sp.Drift(); d.Clamped == 0 {
		t.Fatalf("no component was clamped: %+v", d)
	}
	b := encode(t, g)
	d, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.RestoreQuantization([2]Space{sp}, 0, true, true, nil); err != nil {
		t.Fatal(err)
	}
	tg, td := g.table.Load().chunks, d.table.Load().chunks
	for ci := 0; ci<<chunkBits < 1500; ci++ {
		bg, bd := tg[ci].codes.Load(), td[ci].codes.Load()
		cnt := min(chunkSize, 1500-ci<<chunkBits)
		if bg.space != bd.space || !slices.Equal(bg.codes[:cnt*16], bd.codes[:cnt*16]) || !slices.Equal(bg.corr[:cnt], bd.corr[:cnt]) {
			t.Fatalf("chunk %d: the decoded codes differ", ci)
		}
	}
	sameAsDecoded(t, g, d, b, queries, 64)
}
