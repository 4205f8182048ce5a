package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/akidb/akidb/engine/meta"
)

// GenerateKey returns a new, well-formed API key that is stored nowhere:
// for an operator to put in a secret store and hand to the server with
// --bootstrap-admin-key-file (`akidb keys generate`).
func GenerateKey() (APIKey, error) {
	_, key, _, err := generateKey(rand.Reader)
	return key, err
}

// ParseKey checks that s is a well-formed API key (ak_<id>_<secret>).
func ParseKey(s string) (APIKey, error) {
	if _, _, ok := parseAPIKey(s); !ok {
		return "", errors.New("not an AkiDB API key: want ak_<16 characters>_<43 characters>, as `akidb keys generate` prints")
	}
	return APIKey(s), nil
}

// ImportBootstrapAdmin is EnsureBootstrapAdmin for a key chosen outside
// the server (a Kubernetes Secret, a file from configuration management):
// when the database has no key at all, it stores key as an admin key of
// the default tenant and returns true. Nothing is written to the data
// directory and nothing is to be printed: whoever provisioned the key
// has it. When there is any key it does nothing and returns false, so
// the file matters on the first start only and the key is revoked or
// rotated afterwards like any other.
func (a *Authenticator) ImportBootstrapAdmin(ctx context.Context, key APIKey) (bool, error) {
	id, secret, ok := parseAPIKey(string(key))
	if !ok {
		return false, errors.New("bootstrap admin key: not a well-formed API key")
	}
	a.bootstrapMu.Lock()
	defer a.bootstrapMu.Unlock()
	n, err := a.store.CountAPIKeys(ctx)
	if err != nil {
		return false, fmt.Errorf("bootstrap admin key: %w", err)
	}
	if n > 0 {
		a.logger.Info("the data directory has API keys; the bootstrap admin key file is not used", "key_id", id)
		return false, nil
	}
	sum := sha256.Sum256(secret)
	row, err := a.store.InsertAPIKey(ctx, meta.APIKey{ID: id, TenantID: meta.DefaultTenantID, Role: meta.RoleAdmin,
		Name: BootstrapKeyName, SecretHash: sum[:], CreatedAt: a.now()})
	if err != nil {
		return false, fmt.Errorf("bootstrap admin key: %w", err)
	}
	a.logger.Info("imported the bootstrap admin key", "key_id", row.ID, "tenant", row.TenantID)
	return true, nil
}
