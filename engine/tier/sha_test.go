package tier_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
)

func shaOf(b []byte) ([]byte, string) {
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
