package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/akidb/akidb/engine/meta"
)

// BootstrapKeyName names the first admin key.
const BootstrapKeyName = "bootstrap-admin"

// EnsureBootstrapAdmin gives a new server its first key. When the
// database has no key at all (revoked and expired ones count), it creates
// an admin key of the default tenant, writes it to
// <dataDir>/secrets/bootstrap-admin.key (file 0600, directory 0700) and
// returns it, for the caller to show once (with Reveal) if a person reads
// its output, or else to name the file. When there is any key it does
// nothing and returns "". The file lives until the key is revoked or
// rotated through an Authenticator with that DataDir (removeBootstrapFile).
//
// The file is written before the row: a crash in between leaves no keys,
// so the next start makes a new one, whereas the other order could leave
// a key that nobody has.
func (a *Authenticator) EnsureBootstrapAdmin(ctx context.Context, dataDir string) (APIKey, error) {
	a.bootstrapMu.Lock()
	defer a.bootstrapMu.Unlock()
	n, err := a.store.CountAPIKeys(ctx)
	if err != nil {
		return "", fmt.Errorf("bootstrap admin key: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	dir, err := secretsDir(dataDir, a.logger)
	if err != nil {
		return "", fmt.Errorf("bootstrap admin key: %w", err)
	}
	id, key, hash, err := generateKey(a.lockedRand())
	if err != nil {
		return "", fmt.Errorf("bootstrap admin key: %w", err)
	}
	path := filepath.Join(dir, BootstrapKeyFile)
	if err := writeSecretFile(path, []byte(key.Reveal()+"\n")); err != nil {
		return "", fmt.Errorf("bootstrap admin key: %w", err)
	}
	row, err := a.store.InsertAPIKey(ctx, meta.APIKey{ID: id, TenantID: meta.DefaultTenantID, Role: meta.RoleAdmin,
		Name: BootstrapKeyName, SecretHash: hash, CreatedAt: a.now()})
	if err != nil {
		// The file holds a key that does not exist; leave nothing that
		// looks usable.
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			a.logger.Warn("could not remove the bootstrap key file of a key that was not created", "path", path, "err", rerr)
		}
		return "", fmt.Errorf("bootstrap admin key: %w", err)
	}
	a.logger.Info("created bootstrap admin key", "key_id", row.ID, "tenant", row.TenantID, "file", path)
	return key, nil
}

// removeBootstrapFile deletes <DataDir>/secrets/bootstrap-admin.key if it
// holds key id, which was just revoked or rotated: a key that no longer
// works, or will stop working, should not stay on disk in plain text, and
// its replacement was shown to whoever rotated it. The file of another key
// is left alone. Failing to remove it is logged, not returned: the
// revocation itself has happened.
func (a *Authenticator) removeBootstrapFile(id, why string) {
	if a.cfg.DataDir == "" {
		return
	}
	path := filepath.Join(a.cfg.DataDir, SecretsDir, BootstrapKeyFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			a.logger.Warn("could not read the bootstrap key file to see whether it holds the key just "+why, "path", path, "key_id", id, "err", err)
		}
		return
	}
	fileID, _, ok := parseAPIKey(strings.TrimSpace(string(data)))
	if !ok || fileID != id {
		return
	}
	if err := os.Remove(path); err != nil {
		a.logger.Warn("the bootstrap admin key was "+why+" but its file could not be deleted; delete it by hand", "path", path, "key_id", id, "err", err)
		return
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		a.logger.Warn("fsync of the secrets directory after deleting the bootstrap key file", "err", err)
	}
	a.logger.Info("deleted the bootstrap admin key file: its key was "+why, "path", path, "key_id", id)
}
