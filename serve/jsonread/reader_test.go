package jsonread

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// compact reads one value with AppendCompact and checks nothing follows.
func compact(data []byte) ([]byte, error) {
	r := NewReader(bytes.NewReader(data))
	out, err := r.AppendCompact(nil, len(data)+16, 1000)
	if err != nil {
		return nil, err
	}
	return out, r.End()
}

// FuzzAgainstEncodingJSON: whatever the reader accepts, encoding/json
// accepts too and decodes to the same value; whatever it refuses is either
// invalid for encoding/json as well, or a string that encoding/json would
// have changed (invalid UTF-8, an unpaired surrogate), or a number beyond
// the reader's length bound.
func FuzzAgainstEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-0.5e+10`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`,
		`{"a":[1,2,{"b":null}],"c":"\u0000"}`, "\"\xff\"", `"\ud800"`, `"\udc00\ud800"`, `[1,]`, `{"a" 1}`, `01`, `1.`, `.5`,
		`{"a":1}{"b":2}`, "\"é\"", `[` + strings.Repeat(`[`, 50) + strings.Repeat(`]`, 50) + `]`, `1e400`, " \t\r\n[ 1 , 2 ] ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := compact(data)
		var want any
		jerr := json.Unmarshal(data, &want)
		if err != nil {
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("%q: not an *Error: %v", data, err)
			}
			if jerr == nil && je.Kind == Syntax && !strings.Contains(je.Msg, "longer than") {
				t.Fatalf("%q: refused (%v) but encoding/json accepts it", data, err)
			}
			return
		}
		var ute *json.UnmarshalTypeError
		if errors.As(jerr, &ute) && strings.HasPrefix(ute.Value, "number") {
			return // valid JSON; a number beyond float64, which callers check
		}
		if jerr != nil {
			t.Fatalf("%q: accepted as %q but encoding/json says %v", data, out, jerr)
		}
		var got any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: compact form %q is not JSON: %v", data, out, err)
		}
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		if !bytes.Equal(a, b) {
			t.Fatalf("%q: compact %q decodes to %s, encoding/json to %s", data, out, b, a)
		}
	})
}

// One byte at a time, the reader gives the same answers: no token may
// depend on where a read ends.
func TestOneByteReads(t *testing.T) {
	in := `{"id":"a\u00e9\ud83d\ude00","vector":[1.5,-2e3,0],"meta":{"k":[true,false,null,"x"]}}`
	want, err := compact([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(iotest.OneByteReader(strings.NewReader(in)))
	got, err := r.AppendCompact(nil, 1<<10, 10)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}

func TestErrors(t *testing.T) {
	for in, want := range map[string]struct {
		kind ErrorKind
		path string
	}{
		"{\"a\":[\"x\",\"\xff\"]}":                    {InvalidUTF8, ".a[1]"},
		`{"a":{"b":"\udfff"}}`:                        {InvalidUTF8, ".a.b"},
		`{"a":[1,2,}`:                                 {Syntax, ".a[2]"},
		`{"long":"` + strings.Repeat("x", 100) + `"}`: {TooLong, ".long"},
	} {
		r := NewReader(strings.NewReader(in))
		_, err := r.AppendCompact(nil, 50, 10)
		var je *Error
		if !errors.As(err, &je) || je.Kind != want.kind || je.Path != want.path {
			t.Errorf("%q: got %#v, want kind %d at %q", in, err, want.kind, want.path)
		}
	}
	// Depth.
	r := NewReader(strings.NewReader(`[[[1]]]`))
	if _, err := r.AppendCompact(nil, 100, 2); err == nil {
		t.Error("3 levels accepted under a bound of 2")
	}
	// A failing reader's error comes back as it is.
	boom := errors.New("boom")
	r = NewReader(io.MultiReader(strings.NewReader(`{"a":`), iotest.ErrReader(boom)))
	if _, err := r.AppendCompact(nil, 100, 10); !errors.Is(err, boom) {
		t.Errorf("reader error: %v", err)
	}
	// Ranges.
	var je *Error
	r = NewReader(strings.NewReader(`1e39`))
	if _, err := r.Float(32); !errors.As(err, &je) || je.Kind != Range {
		t.Errorf("1e39 as float32: %v", err)
	}
	r = NewReader(strings.NewReader(`1.5`))
	if _, err := r.Int(); !errors.As(err, &je) || je.Kind != Range {
		t.Errorf("1.5 as int: %v", err)
	}
	// A string stops at its bound without reading the rest.
	src := io.MultiReader(strings.NewReader(`"`+strings.Repeat("y", 64<<10)), iotest.ErrReader(errors.New("read past the bound")))
	r = NewReader(src)
	if _, err := r.String(10); !errors.As(err, &je) || je.Kind != TooLong {
		t.Errorf("long string: %v", err)
	}
}
