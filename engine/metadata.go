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

// encodeMetadataSized is encodeMetadata with the expected size of the
// text: the buffer is allocated once at that size (an upsert's metadata
// is its own size again, give or take), and the text is the buffer itself,
// not a copy of it (nothing else holds the buffer), so that a large batch
// allocates its metadata about once more, not three times.
func encodeMetadataSized(m map[string]any, hint int) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint+16))
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "", err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
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
