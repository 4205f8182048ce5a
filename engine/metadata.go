package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unsafe"
)

// The compact metadata store. A record's metadata is held as one string of
// compact JSON (the slot's meta), not as a decoded map[string]any: a map of
// five fields costs some 500 bytes of headers, boxed values and separately
// allocated keys, the JSON text about a sixth of that. Filters read the
// text directly (filter.MatchJSON, no decoding), payload indexes hold the
// indexed fields as bitmaps, and only the records an answer returns are
// decoded (decodeMetadata).
//
// The text is canonical: what encoding/json.Marshal writes for the decoded
// object (keys sorted, no whitespace, no repeated key, numbers in shortest
// form), except that <, > and & are not escaped. Every way in from outside
// (an upsert, a log record replayed) goes through canonicalMetadata, so
// that matching the text always answers what matching the decoded map
// would. Snapshot slots hold text written that way (version 1 snapshots:
// by encoding/json.Marshal, which also escapes <, > and &; the JSON reader
// unescapes, so they match the same) and are only checked to be an object.

// canonicalMetadata returns the canonical text of a metadata object given
// as JSON, "" for none (empty, null or {}).
func canonicalMetadata(raw []byte) (string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "", nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", err
	}
	return encodeMetadataSized(m, len(raw))
}

// encodeMetadata writes a decoded metadata object canonically.
func encodeMetadata(m map[string]any) (string, error) { return encodeMetadataSized(m, 0) }

// encodeMetadataSized is encodeMetadata with a guess of the text's length
// (the JSON it was decoded from): the text is written once into a buffer
// of that size and kept as it is when it fits closely, instead of growing
// the buffer by doublings and copying the text out of it (a large batch
// of metadata would otherwise allocate it several times over).
func encodeMetadataSized(m map[string]any, guess int) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	var buf bytes.Buffer
	buf.Grow(guess + 1) // Encode ends with a newline
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "", err
	}
	text := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	if slack := buf.Cap() - len(text); slack > 16 && slack > len(text)/16 {
		// The guess was far off: keep an exact copy, not the buffer.
		return string(text), nil
	}
	// The buffer is this function's alone and is never written again.
	return unsafe.String(unsafe.SliceData(text), len(text)), nil
}

// decodeMetadata decodes stored metadata for an answer; nil for none. The
// text was produced by canonicalMetadata, so it always decodes.
func decodeMetadata(s string) map[string]any {
	if s == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		// Unreachable for text this package wrote; an answer without the
		// metadata beats failing the whole query.
		return map[string]any{"_error": fmt.Sprintf("stored metadata does not decode: %v", err)}
	}
	return m
}

// metaBytesOf views stored metadata as bytes for readers that take them
// (payload indexes); they must not modify or keep them.
func metaBytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
