package migrate

import "math"

// Reading the numbers of a vector was the largest cost of parsing a v1
// line (strconv.ParseFloat, and the string each call needs). Embeddings
// are written as short decimals ("0.012345678", "-1.2345678e-05"), which
// take a fast, exact path here; anything else goes to strconv, so the
// result is always bit for bit strconv.ParseFloat(s, 32)'s
// (FuzzParseFloat32 checks it, and TestParseVectorMatchesStrconv the
// whole vector).

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// fastFloat32 reads a plain decimal of at most 19 significant digits and
// a small exponent, whose float32 value is a normal number. It reports
// false for anything it does not read exactly; the caller then asks
// strconv.
//
// Why it is exact: the digits fit a float64 (below 2^53) and so does the
// power of ten (up to 1e22), so one multiplication or division gives the
// float64 nearest the decimal (Clinger's fast path). Rounding that to
// float32 gives the float32 nearest the decimal unless the float64 lies
// exactly halfway between two float32s (a double rounding could then go
// the wrong way); that case is left to strconv.
func fastFloat32(tok []byte) (float32, bool) {
	f, n, ok := fastFloat32Prefix(tok)
	return f, ok && n == len(tok)
}

// fastFloat32Prefix is fastFloat32 on the number tok starts with: it
// also says where the number ends, so a vector is read in one scan.
func fastFloat32Prefix(tok []byte) (float32, int, bool) {
	i := 0
	neg := false
	if i < len(tok) && tok[i] == '-' {
		neg = true
		i++
	}
	var mant uint64
	digits, exp := 0, 0
	intStart := i
	for ; i < len(tok) && tok[i] >= '0' && tok[i] <= '9'; i++ {
		if mant == 0 && tok[i] == '0' {
			continue
		}
		if digits == 19 {
			return 0, 0, false
		}
		mant = mant*10 + uint64(tok[i]-'0')
		digits++
	}
	if i == intStart {
		return 0, 0, false
	}
	if i < len(tok) && tok[i] == '.' {
		i++
		fracStart := i
		for ; i < len(tok) && tok[i] >= '0' && tok[i] <= '9'; i++ {
			exp--
			if mant == 0 && tok[i] == '0' {
				continue
			}
			if digits == 19 {
				return 0, 0, false
			}
			mant = mant*10 + uint64(tok[i]-'0')
			digits++
		}
		if i == fracStart {
			return 0, 0, false
		}
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		eneg := false
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			eneg = tok[i] == '-'
			i++
		}
		expStart, e := i, 0
		for ; i < len(tok) && tok[i] >= '0' && tok[i] <= '9'; i++ {
			if e > 1000 {
				return 0, 0, false
			}
			e = e*10 + int(tok[i]-'0')
		}
		if i == expStart {
			return 0, 0, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if mant == 0 || mant >= 1<<53 {
		return 0, 0, false
	}
	f := float64(mant)
	switch {
	case exp > 0 && exp < len(pow10):
		f *= pow10[exp]
	case exp < 0 && -exp < len(pow10):
		f /= pow10[-exp]
	case exp != 0:
		return 0, 0, false
	}
	bits := math.Float64bits(f)
	// A normal float32 (the largest binade left out, so nothing rounds
	// up to infinity), and not exactly halfway between two float32s
	// (the 29 bits float32 drops are 1000...0).
	if e2 := int(bits>>52&0x7ff) - 1023; e2 < -126 || e2 > 126 {
		return 0, 0, false
	}
	if bits&(1<<29-1) == 1<<28 {
		return 0, 0, false
	}
	r := float32(f)
	if neg {
		r = -r
	}
	return r, i, true
}
