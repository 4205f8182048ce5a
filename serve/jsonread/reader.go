package jsonread

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// bufferSize is how much of the input a Reader holds at once.
const bufferSize = 32 << 10

// yieldAfter is how much of its input a Reader reads before it lets other
// goroutines run at each refill of its buffer (runtime.Gosched): a large
// body is decoded in turns of one buffer, so a server decoding a few of
// them on two cores still answers small requests within milliseconds,
// not after Go's 10 ms preemption of each decoder in turn. A small body
// never yields.
const yieldAfter = 64 << 10

// maxNumberLen bounds a number token. JSON allows any length; no float32,
// float64 or int this package parses needs more than a few dozen digits,
// so a longer token is refused rather than buffered.
const maxNumberLen = 512

// maxNesting bounds the objects and arrays open at once, whatever the
// caller's own depth limits; it keeps the comma stack small.
const maxNesting = 10000

// Kind is the type of the next value.
type Kind uint8

// The kinds of JSON value.
const (
	Invalid Kind = iota
	Object
	Array
	String
	Number
	Bool
	Null
)

func (k Kind) String() string {
	switch k {
	case Object:
		return "an object"
	case Array:
		return "an array"
	case String:
		return "a string"
	case Number:
		return "a number"
	case Bool:
		return "true or false"
	case Null:
		return "null"
	}
	return "invalid JSON"
}

// ErrorKind says what an *Error is about.
type ErrorKind uint8

const (
	// Syntax: the input is not JSON.
	Syntax ErrorKind = iota + 1
	// InvalidUTF8: a string holds bytes that are not UTF-8, or a \u escape
	// an unpaired surrogate.
	InvalidUTF8
	// TooLong: a string is longer than its caller allows.
	TooLong
	// Range: a number does not fit the type it is read as.
	Range
)

// Error is a problem with the input at Offset (bytes from the start).
type Error struct {
	Kind   ErrorKind
	Offset int64
	Msg    string
	// Path leads to the value, when the reading function knows it
	// (AppendCompact): ".a.b[2]", or "" for the top-level value.
	Path string
}

// Field is Path without its leading dot: "a.b[2]".
func (e *Error) Field() string { return strings.TrimPrefix(e.Path, ".") }

func (e *Error) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s: %s (at byte %d)", e.Field(), e.Msg, e.Offset)
	}
	return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Offset)
}

// Reader reads JSON tokens from an io.Reader. Errors of the underlying
// reader (a body limit, a read deadline) are returned as they are.
type Reader struct {
	r    io.Reader
	buf  []byte
	pos  int   // next unread byte in buf
	end  int   // end of valid data in buf
	base int64 // offset of buf[0] in the input
	err  error // sticky error of r (io.EOF at the end)
	// comma[i] is whether the i-th open container already has a member,
	// so the next one needs a comma.
	comma   []bool
	scratch []byte
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, buf: make([]byte, bufferSize), comma: make([]bool, 0, 16)}
}

// Offset is how many bytes of the input have been consumed.
func (r *Reader) Offset() int64 { return r.base + int64(r.pos) }

// Depth is the number of objects and arrays open.
func (r *Reader) Depth() int { return len(r.comma) }

func (r *Reader) syntax(format string, args ...any) *Error {
	return &Error{Kind: Syntax, Offset: r.Offset(), Msg: fmt.Sprintf(format, args...)}
}

// fill reads more input, keeping buf[pos:end]. It returns false at the
// end of the input or on a read error (r.err).
func (r *Reader) fill() bool {
	if r.err != nil {
		return false
	}
	if r.base >= yieldAfter {
		runtime.Gosched()
	}
	if r.pos > 0 {
		n := copy(r.buf, r.buf[r.pos:r.end])
		r.base += int64(r.pos)
		r.pos, r.end = 0, n
	}
	for r.end < len(r.buf) {
		n, err := r.r.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			r.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	return true
}

// ensure reads until n bytes are buffered past pos, or the input ends.
func (r *Reader) ensure(n int) {
	for r.end-r.pos < n && r.fill() {
	}
}

// ioErr is the error to return when the input ended early: the underlying
// reader's error, or a syntax error at the end of the input.
func (r *Reader) ioErr(what string) error {
	if r.err != nil && !errors.Is(r.err, io.EOF) {
		return r.err
	}
	return r.syntax("the JSON ends before %s does", what)
}

// peekByte skips whitespace and returns the next byte without consuming it.
func (r *Reader) peekByte() (byte, bool) {
	for {
		for r.pos < r.end {
			switch c := r.buf[r.pos]; c {
			case ' ', '\t', '\r', '\n':
				r.pos++
			default:
				return c, true
			}
		}
		if !r.fill() {
			return 0, false
		}
	}
}

// Peek returns the kind of the next value without consuming it.
func (r *Reader) Peek() (Kind, error) {
	c, ok := r.peekByte()
	if !ok {
		return Invalid, r.ioErr("a value")
	}
	switch {
	case c == '{':
		return Object, nil
	case c == '[':
		return Array, nil
	case c == '"':
		return String, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return Number, nil
	case c == 't' || c == 'f':
		return Bool, nil
	case c == 'n':
		return Null, nil
	}
	return Invalid, r.syntax("invalid character %q looking for a value", c)
}

// expect consumes the byte c after optional whitespace.
func (r *Reader) expect(c byte, what string) error {
	got, ok := r.peekByte()
	if !ok {
		return r.ioErr(what)
	}
	if got != c {
		return r.syntax("invalid character %q, want %q", got, c)
	}
	r.pos++
	return nil
}

// BeginObject consumes '{'.
func (r *Reader) BeginObject() error { return r.begin('{', "an object") }

// BeginArray consumes '['.
func (r *Reader) BeginArray() error { return r.begin('[', "an array") }

func (r *Reader) begin(c byte, what string) error {
	if len(r.comma) >= maxNesting {
		return r.syntax("JSON nested more than %d levels deep", maxNesting)
	}
	if err := r.expect(c, what); err != nil {
		return err
	}
	r.comma = append(r.comma, false)
	return nil
}

// next handles the separator before a member or element of the innermost
// container: it returns false (and closes the container) at close.
func (r *Reader) next(close byte, what string) (bool, error) {
	c, ok := r.peekByte()
	if !ok {
		return false, r.ioErr(what)
	}
	top := len(r.comma) - 1
	if c == close {
		r.pos++
		r.comma = r.comma[:top]
		return false, nil
	}
	if r.comma[top] {
		if c != ',' {
			return false, r.syntax("invalid character %q after a value in %s, want ',' or %q", c, what, close)
		}
		r.pos++
	}
	r.comma[top] = true
	return true, nil
}

// Key reads the next member's key of the innermost object and the colon
// after it, or returns more == false at the closing '}'. maxLen bounds the
// key in bytes (a longer one is an error of kind TooLong).
func (r *Reader) Key(maxLen int) (key string, more bool, err error) {
	more, err = r.next('}', "an object")
	if !more || err != nil {
		return "", more, err
	}
	if c, _ := r.peekByte(); c != '"' {
		if r.pos >= r.end {
			return "", false, r.ioErr("an object")
		}
		return "", false, r.syntax("invalid character %q looking for an object key", c)
	}
	b, err := r.appendString(r.scratch[:0], maxLen)
	r.scratch = b[:0]
	if err != nil {
		return "", false, err
	}
	key = string(b)
	if err := r.expect(':', "an object"); err != nil {
		return "", false, err
	}
	return key, true, nil
}

// More reports whether the innermost array has another element (and
// consumes the comma before it), or consumes its closing ']'.
func (r *Reader) More() (bool, error) { return r.next(']', "an array") }

// String reads a string of at most maxLen bytes (after unescaping).
func (r *Reader) String(maxLen int) (string, error) {
	b, err := r.AppendString(r.scratch[:0], maxLen)
	r.scratch = b[:0]
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendString reads a string value and appends its unescaped bytes to
// dst; at most maxLen of them (a longer string is an error of kind
// TooLong, returned as soon as the limit is passed).
func (r *Reader) AppendString(dst []byte, maxLen int) ([]byte, error) {
	if err := r.expect('"', "a string"); err != nil {
		return dst, err
	}
	r.pos-- // appendString consumes the quote itself
	return r.appendString(dst, maxLen)
}

func (r *Reader) appendString(dst []byte, maxLen int) ([]byte, error) {
	start := r.Offset()
	r.pos++ // the opening quote
	n := 0
	tooLong := func() error {
		return &Error{Kind: TooLong, Offset: start, Msg: fmt.Sprintf("the string is longer than %d bytes", maxLen)}
	}
	for {
		if r.pos >= r.end && !r.fill() {
			return dst, r.ioErr("a string")
		}
		// Fast path: plain ASCII up to a quote, backslash or other byte.
		i := r.pos
		for i < r.end {
			c := r.buf[i]
			if c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
				break
			}
			i++
		}
		if i > r.pos {
			if n+(i-r.pos) > maxLen {
				return dst, tooLong()
			}
			dst = append(dst, r.buf[r.pos:i]...)
			n += i - r.pos
			r.pos = i
			continue
		}
		c := r.buf[r.pos]
		switch {
		case c == '"':
			r.pos++
			return dst, nil
		case c < 0x20:
			return dst, r.syntax("invalid control character %q in a string", c)
		case c == '\\':
			var err error
			before := len(dst)
			if dst, err = r.escape(dst); err != nil {
				return dst, err
			}
			n += len(dst) - before
		default: // a multi-byte UTF-8 sequence
			if !utf8.FullRune(r.buf[r.pos:r.end]) {
				r.ensure(utf8.UTFMax) // may add nothing: then the check below fails
			}
			ru, size := utf8.DecodeRune(r.buf[r.pos:r.end])
			if ru == utf8.RuneError && size <= 1 {
				return dst, &Error{Kind: InvalidUTF8, Offset: r.Offset(), Msg: "the string is not valid UTF-8"}
			}
			dst = append(dst, r.buf[r.pos:r.pos+size]...)
			n += size
			r.pos += size
		}
		if n > maxLen {
			return dst, tooLong()
		}
	}
}

// escape decodes one backslash escape at r.pos.
func (r *Reader) escape(dst []byte) ([]byte, error) {
	r.ensure(12) // the longest: a surrogate pair, \uXXXX\uXXXX
	if r.end-r.pos < 2 {
		return dst, r.ioErr("a string")
	}
	c := r.buf[r.pos+1]
	switch c {
	case '"', '\\', '/':
		r.pos += 2
		return append(dst, c), nil
	case 'b':
		r.pos += 2
		return append(dst, '\b'), nil
	case 'f':
		r.pos += 2
		return append(dst, '\f'), nil
	case 'n':
		r.pos += 2
		return append(dst, '\n'), nil
	case 'r':
		r.pos += 2
		return append(dst, '\r'), nil
	case 't':
		r.pos += 2
		return append(dst, '\t'), nil
	case 'u':
		first, ok := hex4(r.buf[r.pos+2 : r.end])
		if !ok {
			return dst, r.syntax("invalid \\u escape in a string")
		}
		ru := rune(first)
		size := 6
		if utf16.IsSurrogate(ru) {
			tail := r.buf[r.pos+6 : r.end]
			var second uint16
			if len(tail) >= 6 && tail[0] == '\\' && tail[1] == 'u' {
				second, ok = hex4(tail[2:])
			} else {
				ok = false
			}
			ru = utf16.DecodeRune(ru, rune(second))
			if !ok || ru == utf8.RuneError {
				return dst, &Error{Kind: InvalidUTF8, Offset: r.Offset(), Msg: "the string has an unpaired UTF-16 surrogate escape"}
			}
			size = 12
		}
		r.pos += size
		return utf8.AppendRune(dst, ru), nil
	}
	return dst, r.syntax("invalid escape \\%c in a string", c)
}

func hex4(b []byte) (uint16, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var v uint16
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(c)
	}
	return v, true
}

// NumberToken reads a number and returns its text, which is valid until
// the next call on r.
func (r *Reader) NumberToken() ([]byte, error) {
	if _, ok := r.peekByte(); !ok {
		return nil, r.ioErr("a number")
	}
	tok := r.scratch[:0]
	for {
		for r.pos < r.end {
			c := r.buf[r.pos]
			if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
				goto done
			}
			if len(tok) >= maxNumberLen {
				return nil, r.syntax("a number longer than %d characters", maxNumberLen)
			}
			tok = append(tok, c)
			r.pos++
		}
		if !r.fill() {
			if r.err != nil && !errors.Is(r.err, io.EOF) {
				return nil, r.err
			}
			break
		}
	}
done:
	r.scratch = tok[:0]
	if !validNumber(tok) {
		return nil, &Error{Kind: Syntax, Offset: r.Offset() - int64(len(tok)), Msg: fmt.Sprintf("invalid number %q", clip(tok))}
	}
	return tok, nil
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// validNumber checks the JSON number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - s
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

// tokenString views a token as a string without copying, for strconv:
// its parse functions copy the text into any error they return.
func tokenString(tok []byte) string { return unsafe.String(unsafe.SliceData(tok), len(tok)) }

// Float reads a number that must fit in a float of bitSize (32 or 64)
// bits: a value beyond that range is an error of kind Range.
func (r *Reader) Float(bitSize int) (float64, error) {
	tok, err := r.NumberToken()
	if err != nil {
		return 0, err
	}
	f, perr := strconv.ParseFloat(tokenString(tok), bitSize)
	if perr != nil {
		return 0, &Error{Kind: Range, Offset: r.Offset() - int64(len(tok)), Msg: fmt.Sprintf("%s is beyond float%d range", clip(tok), bitSize)}
	}
	return f, nil
}

// Int reads an integer number (no fraction or exponent) within int64;
// another number is an error of kind Range.
func (r *Reader) Int() (int64, error) {
	tok, err := r.NumberToken()
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseInt(tokenString(tok), 10, 64)
	if perr != nil {
		return 0, &Error{Kind: Range, Offset: r.Offset() - int64(len(tok)), Msg: fmt.Sprintf("%s is not an integer within range", clip(tok))}
	}
	return n, nil
}

// literal consumes the literal word (true, false, null).
func (r *Reader) literal(word string) error {
	if _, ok := r.peekByte(); !ok {
		return r.ioErr(word)
	}
	for i := 0; i < len(word); i++ {
		if r.pos >= r.end && !r.fill() {
			return r.ioErr(word)
		}
		if r.buf[r.pos] != word[i] {
			return r.syntax("invalid literal, want %s", word)
		}
		r.pos++
	}
	return nil
}

// Bool reads true or false.
func (r *Reader) Bool() (bool, error) {
	c, ok := r.peekByte()
	if !ok {
		return false, r.ioErr("true or false")
	}
	if c == 't' {
		return true, r.literal("true")
	}
	return false, r.literal("false")
}

// Null reads null.
func (r *Reader) Null() error { return r.literal("null") }

// End checks that only whitespace follows the value read.
func (r *Reader) End() error {
	if c, ok := r.peekByte(); ok {
		return r.syntax("unexpected data after the JSON value (%q)", c)
	}
	if r.err != nil && !errors.Is(r.err, io.EOF) {
		return r.err
	}
	return nil
}
