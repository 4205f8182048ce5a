package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Files under <data-dir>/secrets/ (mode 0700); each file has mode 0600.
const (
	SecretsDir       = "secrets"
	JWTKeyFile       = "jwt.key"
	BootstrapKeyFile = "bootstrap-admin.key"
)

const (
	secretsDirMode  fs.FileMode = 0o700
	secretsFileMode fs.FileMode = 0o600
)

// MinJWTSecretLen is the shortest HS256 signing secret accepted: as long
// as the hash, as RFC 7518 section 3.2 asks.
const MinJWTSecretLen = 32

// secretsDir creates <dataDir>/secrets with mode 0700, or tightens an
// existing one to 0700, and returns its path.
func secretsDir(dataDir string, logger *slog.Logger) (string, error) {
	dir := filepath.Join(dataDir, SecretsDir)
	if err := os.MkdirAll(dir, secretsDirMode); err != nil {
		return "", fmt.Errorf("create secrets directory %s: %w", dir, err)
	}
	// A new directory's entry is durable only once its parent is fsynced;
	// the bootstrap key written into it is shown once and must not vanish.
	if err := syncDir(dataDir); err != nil {
		return "", err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("secrets directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("secrets directory %s: not a directory", dir)
	}
	if fi.Mode().Perm() != secretsDirMode {
		// MkdirAll is subject to the umask, and an existing directory
		// keeps whatever mode it had.
		if err := os.Chmod(dir, secretsDirMode); err != nil {
			return "", fmt.Errorf("chmod secrets directory %s: %w", dir, err)
		}
		if fi.Mode().Perm()&^secretsDirMode != 0 {
			logger.Warn("secrets directory had loose permissions; set to 0700", "path", dir, "was", fi.Mode().Perm().String())
		}
	}
	return dir, nil
}

// writeSecretFile writes data to path with mode 0600, whole or not at all:
// a temporary file in the same directory, fsync, rename, directory fsync.
func writeSecretFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	// CreateTemp makes the file 0600 already; say so anyway, in case.
	if err = f.Chmod(secretsFileMode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// loadOrCreateJWTSecret returns the signing secret kept in
// <dataDir>/secrets/jwt.key (base64url text of 32 random bytes), creating
// it on first use. A file that does not decode to at least
// MinJWTSecretLen bytes is refused rather than replaced: replacing it
// would hide whatever damaged it.
func loadOrCreateJWTSecret(dataDir string, rand io.Reader, logger *slog.Logger) ([]byte, error) {
	dir, err := secretsDir(dataDir, logger)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, JWTKeyFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := fixFileMode(path, logger); err != nil {
			return nil, err
		}
		secret, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(string(data)))
		if err != nil {
			return nil, fmt.Errorf("jwt signing key %s: not base64url text: %w", path, err)
		}
		if len(secret) < MinJWTSecretLen {
			return nil, fmt.Errorf("jwt signing key %s: %d bytes, fewer than %d", path, len(secret), MinJWTSecretLen)
		}
		return secret, nil
	case errors.Is(err, fs.ErrNotExist):
		secret := make([]byte, MinJWTSecretLen)
		if _, err := io.ReadFull(rand, secret); err != nil {
			return nil, fmt.Errorf("generate jwt signing key: %w", err)
		}
		if err := writeSecretFile(path, []byte(base64.RawURLEncoding.EncodeToString(secret)+"\n")); err != nil {
			return nil, fmt.Errorf("jwt signing key: %w", err)
		}
		logger.Info("created jwt signing key", "path", path)
		return secret, nil
	default:
		return nil, fmt.Errorf("read jwt signing key %s: %w", path, err)
	}
}

// fixFileMode tightens a secret file to 0600.
func fixFileMode(path string, logger *slog.Logger) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Mode().Perm() == secretsFileMode {
		return nil
	}
	logger.Warn("secret file had loose permissions; set to 0600", "path", path, "was", fi.Mode().Perm().String())
	if err := os.Chmod(path, secretsFileMode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}
