package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 17, 2048, 70000} {
		payload := randomPayload(rng, n)
		b := appendRecord([]byte("prefix"), 42, flagBatchContinues, 7, payload)[len("prefix"):]
		if len(b) != frameSize(n) {
			t.Fatalf("frame of %d-byte payload is %d bytes, want %d", n, len(b), frameSize(n))
		}
		rec, need, err := decodeRecord(append(bytes.Clone(b), 0, 0, 0), 1<<20)
		if err != nil || need != len(b) {
			t.Fatalf("decode: %v need %d", err, need)
		}
		if rec.seq != 42 || rec.typ != 7 || rec.flags != flagBatchContinues || !bytes.Equal(rec.payload, payload) {
			t.Fatalf("decoded %+v", rec)
		}
		// Every strict prefix is short, never mistaken for a record.
		for _, cut := range []int{0, 3, 4, recordHeaderSize - 1, len(b) - 1} {
			if cut < 0 || cut >= len(b) {
				continue
			}
			if _, _, err := decodeRecord(b[:cut], 1<<20); !errors.Is(err, errShortFrame) {
				t.Fatalf("prefix of %d bytes: err %v, want short", cut, err)
			}
		}
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	good := appendRecord(nil, 1, 0, 1, []byte("hello"))
	mut := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	cases := []struct {
		name string
		b    []byte
		max  int
		want error
	}{
		{"zeros", make([]byte, 64), 1024, errZeroLength},
		{"length below minimum", mut(func(b []byte) { binary.LittleEndian.PutUint32(b, 9) }), 1024, errBadLength},
		{"length over max", good, 4, errBadLength},
		{"huge length", mut(func(b []byte) { binary.LittleEndian.PutUint32(b, 0xffffffff) }), MaxRecordSizeLimit, errBadLength},
		{"bit flip in payload", mut(func(b []byte) { b[len(b)-1] ^= 1 }), 1024, errBadCRC},
		{"bit flip in seq", mut(func(b []byte) { b[9] ^= 0x80 }), 1024, errBadCRC},
		{"bit flip in length", mut(func(b []byte) { b[0] ^= 1 }), 1024, errBadCRC},
		{"unknown flag", appendRecord(nil, 1, 0x80, 1, nil), 1024, errBadFlags},
	}
	for _, c := range cases {
		if _, _, err := decodeRecord(c.b, c.max); err != c.want {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func TestSegmentHeader(t *testing.T) {
	h := encodeSegmentHeader(0xdeadbeef)
	if seq, reason := decodeSegmentHeader(h); reason != "" || seq != 0xdeadbeef {
		t.Fatalf("decode: %d %q", seq, reason)
	}
	for i := range h {
		b := bytes.Clone(h)
		b[i] ^= 0x10
		if _, reason := decodeSegmentHeader(b); reason == "" {
			t.Fatalf("flip at byte %d accepted", i)
		}
	}
	if _, reason := decodeSegmentHeader(h[:20]); reason == "" {
		t.Fatal("short header accepted")
	}
}

func TestSegmentName(t *testing.T) {
	for _, seq := range []uint64{0, 1, 255, 1 << 40, ^uint64(0)} {
		got, ok := parseSegmentName(segmentName(seq))
		if !ok || got != seq {
			t.Fatalf("round trip of %d: %d %v", seq, got, ok)
		}
	}
	if segmentName(1) != "0000000000000001.wal" {
		t.Fatalf("name %q", segmentName(1))
	}
	for _, bad := range []string{"1.wal", "000000000000000A.wal", "0000000000000001.wal.tmp", "000000000000000g.wal", "00000000000000001.wal"} {
		if _, ok := parseSegmentName(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to the frame decoder and to the
// file reader on top of it: no panic, no allocation in the decoder, and the
// reader never allocates more than the input it was given, whatever the
// length field says.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, 1, 0, 1, []byte("payload")), uint32(1024))
	f.Add(appendRecord(nil, 7, flagBatchContinues, 255, nil), uint32(16))
	f.Add(appendRecord(nil, 7, 0, 3, make([]byte, 300))[:100], uint32(1024))
	f.Add(make([]byte, 40), uint32(1024))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4}, uint32(MaxRecordSizeLimit))
	f.Add([]byte{}, uint32(0))
	bad := appendRecord(nil, 3, 0, 1, []byte("abc"))
	bad[len(bad)-1] ^= 1
	f.Add(bad, uint32(1024))
	f.Fuzz(func(t *testing.T, data []byte, maxPayload uint32) {
		max := int(maxPayload % (MaxRecordSizeLimit + 1))
		var (
			rec  record
			need int
			err  error
		)
		if allocs := testing.AllocsPerRun(1, func() { rec, need, err = decodeRecord(data, max) }); allocs != 0 {
			t.Fatalf("decodeRecord allocated %v times", allocs)
		}
		if need > lengthFieldSize+minRecordLength+max {
			t.Fatalf("need %d exceeds the largest frame %d", need, lengthFieldSize+minRecordLength+max)
		}
		if err == nil {
			if need > len(data) || need != frameSize(len(rec.payload)) || len(rec.payload) > max {
				t.Fatalf("bad frame accounting: need %d len %d payload %d", need, len(data), len(rec.payload))
			}
			again := appendRecord(nil, rec.seq, rec.flags, rec.typ, rec.payload)
			if !bytes.Equal(again, data[:need]) {
				t.Fatal("re-encoding a decoded record gives different bytes")
			}
		}
		w := newFileWindow(bytes.NewReader(data), int64(len(data)))
		if _, _, _, err := w.readRecord(0, max); err != nil {
			t.Fatalf("reading from memory failed: %v", err)
		}
		if cap(w.buf) > len(data) {
			t.Fatalf("reader allocated %d bytes for %d bytes of input", cap(w.buf), len(data))
		}
	})
}

// FuzzScanSegment runs the segment scanner (what Open, Verify and Repair
// use) over arbitrary bytes, with and without a valid header in front.
func FuzzScanSegment(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	var seg []byte
	for i := range 5 {
		seg = appendRecord(seg, uint64(1+i), 0, 1, randomPayload(rng, 10+i*7))
	}
	f.Add(seg, true)
	f.Add(append(bytes.Clone(seg), make([]byte, 600)...), true)
	f.Add(seg[:len(seg)-5], true)
	flipped := bytes.Clone(seg)
	flipped[40] ^= 0xff
	f.Add(flipped, true)
	f.Add(append(encodeSegmentHeader(1), seg...), false)
	f.Add([]byte("AKIDBWAL garbage"), false)
	f.Fuzz(func(t *testing.T, data []byte, withHeader bool) {
		if withHeader {
			data = append(encodeSegmentHeader(1), data...)
		}
		size := int64(len(data))
		for _, o := range []scanOptions{{isLast: true}, {isLast: false}, {isLast: true, all: true}, {all: true}} {
			s, err := scanSegment(bytes.NewReader(data), size, "fuzz.wal", 1, o)
			if err != nil {
				t.Fatalf("scan of in-memory bytes failed: %v", err)
			}
			if s.end < 0 || s.end > size || (s.headerOK && s.end < segmentHeaderSize) {
				t.Fatalf("end %d out of range (size %d)", s.end, size)
			}
			if !o.all && len(s.problems) > 1 {
				t.Fatalf("%d problems without all", len(s.problems))
			}
			for i, p := range s.problems {
				if p.Offset < 0 || p.Offset > size {
					t.Fatalf("problem offset %d out of range", p.Offset)
				}
				if p.Kind == TornTail && (!o.isLast || i != len(s.problems)-1) {
					t.Fatalf("torn tail reported where impossible: %v", p)
				}
			}
			if len(s.problems) > 0 && s.problems[0].Kind == TornTail {
				if s.tornEnd < s.problems[0].Offset || s.tornEnd > size || s.problems[0].Offset != s.end {
					t.Fatalf("torn tail range [%d,%d) end %d", s.problems[0].Offset, s.tornEnd, s.end)
				}
			}
		}
	})
}
