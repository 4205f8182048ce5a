package migrate

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// checkParseFloat32 compares the fast path with strconv.ParseFloat(s, 32)
// wherever it takes a number: the same bits, and the same end when the
// number is followed by a delimiter.
func checkParseFloat32(t *testing.T, s string) {
	t.Helper()
	got, ok := fastFloat32([]byte(s))
	if !ok {
		return
	}
	want, err := strconv.ParseFloat(s, 32)
	if err != nil {
		t.Fatalf("%q: the fast path read %v, strconv refuses it: %v", s, got, err)
	}
	if math.Float32bits(got) != math.Float32bits(float32(want)) {
		t.Fatalf("%q: %v (%#x), strconv: %v (%#x)", s, got, math.Float32bits(got), want, math.Float32bits(float32(want)))
	}
	if _, n, ok := fastFloat32Prefix([]byte(s + ",")); !ok || n != len(s) {
		t.Fatalf("%q followed by a comma: end %d, ok %v", s, n, ok)
	}
}

var floatSeeds = []string{
	"0", "-0", "0.0", "1", "-1", "0.5", "0.012345678", "-1.2345678e-05", "1e-3", "-2E2", "12.5e+3",
	"3.4028235e38", "3.4028236e38", "3.5e38", "1e39", "-1e39", "1.1754944e-38", "1.1754942e-38",
	"1.4e-45", "7e-46", "1e-50", "123456789012345678", "1234567890123456789", "12345678901234567890",
	"9007199254740993", "0.1", "0.30000001192092896", "16777217", "16777219", "1.00000005960464477539",
	"01", "1.", ".5", "-", "1e", "1e+", "+1", "0x1p3", "inf", "-Inf", "NaN", "1_0", "1e1000", "1e-1000",
	"1e99999999999", "00.5", "-.5",
}

// TestParseFloat32MatchesStrconv runs the comparison over the seeds,
// float32 values written as v1 writers write them (shortest, fixed and
// exponent forms), the exact midpoints between neighbouring float32s
// (where a double rounding would err), and random digit strings.
func TestParseFloat32MatchesStrconv(t *testing.T) {
	for _, s := range floatSeeds {
		checkParseFloat32(t, s)
	}
	r := rand.New(rand.NewPCG(7, 11))
	for range 200000 {
		x := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			continue
		}
		for _, s := range []string{
			strconv.FormatFloat(float64(x), 'g', -1, 32),
			strconv.FormatFloat(float64(x), 'e', r.IntN(12), 32),
			strconv.FormatFloat(float64(x), 'g', -1, 64),
		} {
			checkParseFloat32(t, s)
		}
		// The float64 halfway between x and the next float32 up, written
		// exactly: strconv rounds it to even; the fast path must not
		// take it.
		next := math.Nextafter32(x, float32(math.Inf(1)))
		if !math.IsInf(float64(next), 0) {
			mid := (float64(x) + float64(next)) / 2
			checkParseFloat32(t, strconv.FormatFloat(mid, 'g', -1, 64))
			checkParseFloat32(t, strconv.FormatFloat(math.Nextafter(mid, math.Inf(1)), 'g', -1, 64))
			checkParseFloat32(t, strconv.FormatFloat(math.Nextafter(mid, math.Inf(-1)), 'g', -1, 64))
		}
		// Embedding-like values: a few significant digits, small scale.
		y := (r.Float64()*2 - 1) * math.Pow(10, float64(r.IntN(8)-6))
		checkParseFloat32(t, strconv.FormatFloat(y, 'f', r.IntN(10), 64))
		checkParseFloat32(t, strconv.FormatFloat(y, 'g', 1+r.IntN(17), 64))
	}
	digits := []byte("0123456789")
	for range 100000 {
		b := make([]byte, 0, 32)
		if r.IntN(2) == 0 {
			b = append(b, '-')
		}
		for range 1 + r.IntN(22) {
			b = append(b, digits[r.IntN(10)])
		}
		if r.IntN(2) == 0 {
			b = append(b, '.')
			for range r.IntN(22) {
				b = append(b, digits[r.IntN(10)])
			}
		}
		if r.IntN(2) == 0 {
			b = append(b, "e-+"[r.IntN(3)])
			b = strconv.AppendInt(b, int64(r.IntN(90)), 10)
		}
		checkParseFloat32(t, string(b))
	}
}

// TestFastFloat32TakesShortDecimals: the numbers v1 files are made of
// take the fast path (otherwise it saves nothing), the rest does not.
func TestFastFloat32TakesShortDecimals(t *testing.T) {
	for _, s := range []string{"0.012345678", "-1.2345678e-05", "1", "-0.5", "123.25", "4e-7", "0.70710677"} {
		if _, ok := fastFloat32([]byte(s)); !ok {
			t.Errorf("%q: not read by the fast path", s)
		}
	}
	for _, s := range []string{"0", "-0", "1e39", "1e-40", "12345678901234567890", "1.", "01x", "NaN"} {
		if _, ok := fastFloat32([]byte(s)); ok {
			t.Errorf("%q: read by the fast path; strconv should have it", s)
		}
	}
}

// FuzzParseFloat32 checks the fast path against strconv on any input.
func FuzzParseFloat32(f *testing.F) {
	for _, s := range floatSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParseFloat32(t, s) })
}

// TestParseVectorMatchesStrconv: a whole vector of numbers in every form
// reads as strconv reads each of them, whichever path each number takes.
func TestParseVectorMatchesStrconv(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	seps := []string{",", ", ", " ,", ",\t", " , "}
	for range 2000 {
		dim := 1 + r.IntN(40)
		var toks []string
		for range dim {
			x := math.Float32frombits(r.Uint32())
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				x = 0.25
			}
			switch r.IntN(4) {
			case 0:
				toks = append(toks, strconv.FormatFloat(float64(x), 'g', -1, 32))
			case 1:
				toks = append(toks, strconv.FormatFloat(float64(x), 'e', r.IntN(20), 64))
			case 2:
				toks = append(toks, floatSeeds[r.IntN(12)]) // the well-formed seeds
			default:
				toks = append(toks, strconv.FormatFloat((r.Float64()*2-1)*math.Pow(10, float64(r.IntN(12)-8)), 'f', r.IntN(12), 64))
			}
		}
		raw := "[ "
		for i, tok := range toks {
			if i > 0 {
				raw += seps[r.IntN(len(seps))]
			}
			raw += tok
		}
		raw += " ]"
		got, count, verr := parseVector([]byte(raw), dim)
		if verr != nil || count != dim {
			t.Fatalf("%s: %v, %d numbers", raw, verr, count)
		}
		for i, tok := range toks {
			want, err := strconv.ParseFloat(tok, 32)
			if err != nil {
				t.Fatalf("%q: %v", tok, err)
			}
			if math.Float32bits(got[i]) != math.Float32bits(float32(want)) {
				t.Fatalf("%s: [%d] %q read as %v, strconv: %v", raw, i, tok, got[i], want)
			}
		}
	}
}
