package jsonread

import (
	"errors"
	"strconv"
)

// AppendCompact reads the next value and appends it to dst as compact
// JSON (no whitespace; strings re-escaped minimally), refusing more than
// maxLen bytes of output or more than maxDepth levels of nesting. An
// *Error it returns names the value's Path.
func (r *Reader) AppendCompact(dst []byte, maxLen, maxDepth int) ([]byte, error) {
	dst, err := r.appendCompact(dst, maxLen, maxDepth, 1)
	return dst, err
}

func (r *Reader) appendCompact(dst []byte, maxLen, maxDepth, depth int) ([]byte, error) {
	k, err := r.Peek()
	if err != nil {
		return dst, err
	}
	switch k {
	case Object, Array:
		if depth > maxDepth {
			return dst, r.syntax("nested more than %d levels deep", maxDepth)
		}
	}
	switch k {
	case Object:
		if err := r.BeginObject(); err != nil {
			return dst, err
		}
		dst = append(dst, '{')
		for n := 0; ; n++ {
			key, more, err := r.Key(maxLen)
			if err != nil {
				return dst, err
			}
			if !more {
				break
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = append(AppendQuoted(dst, []byte(key)), ':')
			if dst, err = r.appendCompact(dst, maxLen, maxDepth, depth+1); err != nil {
				return dst, withPath(err, pathKey(key))
			}
			if len(dst) > maxLen {
				return dst, r.tooLong(maxLen)
			}
		}
		return append(dst, '}'), nil
	case Array:
		if err := r.BeginArray(); err != nil {
			return dst, err
		}
		dst = append(dst, '[')
		for i := 0; ; i++ {
			more, err := r.More()
			if err != nil {
				return dst, err
			}
			if !more {
				break
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = r.appendCompact(dst, maxLen, maxDepth, depth+1); err != nil {
				return dst, withPath(err, "["+strconv.Itoa(i)+"]")
			}
			if len(dst) > maxLen {
				return dst, r.tooLong(maxLen)
			}
		}
		return append(dst, ']'), nil
	case String:
		at := len(dst)
		s, err := r.AppendString(dst, maxLen)
		if err != nil {
			return dst, err
		}
		// Unescaped in place, then quoted again from a copy.
		raw := append([]byte(nil), s[at:]...)
		return AppendQuoted(s[:at], raw), nil
	case Number:
		tok, err := r.NumberToken()
		if err != nil {
			return dst, err
		}
		return append(dst, tok...), nil
	case Bool:
		b, err := r.Bool()
		if err != nil {
			return dst, err
		}
		return strconv.AppendBool(dst, b), nil
	case Null:
		if err := r.Null(); err != nil {
			return dst, err
		}
		return append(dst, "null"...), nil
	}
	return dst, r.syntax("invalid JSON value")
}

func (r *Reader) tooLong(maxLen int) *Error {
	return &Error{Kind: TooLong, Offset: r.Offset(), Msg: "the value is longer than " + strconv.Itoa(maxLen) + " bytes as JSON"}
}

func pathKey(key string) string {
	if key == "" || !plainKey(key) {
		return "[" + strconv.Quote(key) + "]"
	}
	return "." + key
}

func plainKey(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// withPath prefixes seg to the path of an *Error (other errors pass).
func withPath(err error, seg string) error {
	var e *Error
	if errors.As(err, &e) {
		e.Path = seg + e.Path
	}
	return err
}

const hexDigits = "0123456789abcdef"

// AppendQuoted appends s as a JSON string: quotes, backslashes and control
// characters escaped, everything else (UTF-8 included) as it is.
func AppendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
