package meta

import (
	"encoding/hex"
	"fmt"
	"io"
)

// newID returns a random (version 4) UUID in its canonical lowercase form,
// e.g. "3b241101-e2bb-4255-8caf-4136c566a962". It is the name of a
// collection's directory, so its form is fixed: see ValidCollectionID.
func (s *Store) newID() (string, error) {
	var b [16]byte
	s.randMu.Lock()
	_, err := io.ReadFull(s.rand, b[:])
	s.randMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:]), nil
}

// ValidCollectionID reports whether s has the form of a collection id: a
// UUID in canonical lowercase form (8-4-4-4-12 hex digits). Being a
// directory name, an id must never carry a path separator or "..", and the
// engine's orphan sweep uses this to leave alone anything under
// collections/ that is not a collection directory.
func ValidCollectionID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
