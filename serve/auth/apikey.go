package auth

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/akidb/akidb/engine/meta"
)

// KeyPrefix starts every API key.
const KeyPrefix = "ak_"

const (
	idBytes     = 10 // 80 bits -> 16 base32 characters
	secretBytes = 32 // 256 bits -> 43 base64url characters
	secretLen   = 43
	// KeyLen is the length of a full API key: "ak_" + 16 + "_" + 43.
	KeyLen = len(KeyPrefix) + meta.APIKeyIDLen + 1 + secretLen
)

// idEncoding is lowercase RFC 4648 base32 without padding: 10 bytes are
// exactly 16 characters of a-z and 2-7, none of them '_', so the id ends
// where the secret's separator starts.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// secretEncoding is base64url without padding, decoded strictly (one
// spelling per secret).
var secretEncoding = base64.RawURLEncoding.Strict()

// APIKey is a full API key, ak_<id>_<secret>: the only value that holds a
// usable secret. It prints, logs and marshals redacted (ak_<id>_…); only
// Reveal gives the key, to show it once to whoever created it.
type APIKey string

// Reveal returns the full key. Call it only to hand the key to its owner.
func (k APIKey) Reveal() string { return string(k) }

// ID returns the key's public id, or "" if k is not well formed.
func (k APIKey) ID() string {
	id, _, ok := parseAPIKey(string(k))
	if !ok {
		return ""
	}
	return id
}

// String returns the key with its secret redacted.
func (k APIKey) String() string {
	if k == "" {
		return ""
	}
	if id := k.ID(); id != "" {
		return KeyPrefix + id + "_[REDACTED]"
	}
	return "[REDACTED]"
}

// GoString redacts too (%#v).
func (k APIKey) GoString() string { return fmt.Sprintf("auth.APIKey(%q)", k.String()) }

// LogValue keeps slog from printing the secret.
func (k APIKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON redacts: a response that should carry the key must say so
// with Reveal.
func (k APIKey) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", k.String())), nil }

// MarshalText redacts, for the same reason.
func (k APIKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// generateKey draws a new id and secret from rand and returns the full key
// and the secret's hash.
func generateKey(rand io.Reader) (id string, key APIKey, hash []byte, err error) {
	var raw [idBytes + secretBytes]byte
	if _, err := io.ReadFull(rand, raw[:]); err != nil {
		return "", "", nil, fmt.Errorf("generate api key: %w", err)
	}
	id = idEncoding.EncodeToString(raw[:idBytes])
	secret := raw[idBytes:]
	sum := sha256.Sum256(secret)
	key = APIKey(KeyPrefix + id + "_" + secretEncoding.EncodeToString(secret))
	return id, key, sum[:], nil
}

// parseAPIKey splits ak_<id>_<secret> into the id and the decoded secret.
// It checks the form only.
func parseAPIKey(s string) (id string, secret []byte, ok bool) {
	if len(s) != KeyLen || !strings.HasPrefix(s, KeyPrefix) {
		return "", nil, false
	}
	id = s[len(KeyPrefix) : len(KeyPrefix)+meta.APIKeyIDLen]
	if !meta.ValidAPIKeyID(id) || s[len(KeyPrefix)+meta.APIKeyIDLen] != '_' {
		return "", nil, false
	}
	secret, err := secretEncoding.DecodeString(s[len(KeyPrefix)+meta.APIKeyIDLen+1:])
	if err != nil || len(secret) != secretBytes {
		return "", nil, false
	}
	return id, secret, true
}

// looksLikeAPIKey tells an API key from a JWT before parsing either.
func looksLikeAPIKey(s string) bool { return strings.HasPrefix(s, KeyPrefix) }
