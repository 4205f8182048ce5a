package tier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// The reading side of the store, for `akidb restore`: finding and reading
// manifests and downloading the objects they list, every byte checked
// against the SHA-256 the manifest records.

// ErrNoManifest: no shipped collection matches.
var ErrNoManifest = errors.New("no shipped collection found")

// ShippedCollection is a manifest found in the store.
type ShippedCollection struct {
	Key      string // the manifest's key
	Manifest *Manifest
	// Err is set instead of Manifest when the manifest could not be read.
	Err error
}

// ReadManifest reads the manifest at key and checks it: its bytes against
// the SHA-256 stored with it, its rules (Manifest.Validate), and that it
// describes the collection its key names.
func ReadManifest(ctx context.Context, s ObjectStore, key string) (*Manifest, error) {
	rc, info, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	sum := sha256.Sum256(b)
	if info.SHA256 != "" && info.SHA256 != hex.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("manifest %s: %w: its bytes do not match the SHA-256 stored with it", key, ErrChecksumMismatch)
	}
	m, err := DecodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	parts := strings.Split(strings.TrimSuffix(key, "/"+ManifestName), "/")
	if n := len(parts); n < 3 || parts[n-1] != m.CollectionID || parts[n-2] != m.Name || parts[n-3] != m.Tenant {
		return nil, fmt.Errorf("manifest %s: %w: it describes %s/%s (%s), not the collection its key names", key, ErrBadManifest, m.Tenant, m.Name, m.CollectionID)
	}
	return m, nil
}

// ListShipped reads every manifest under prefix, sorted by tenant, name
// and newest first.
func ListShipped(ctx context.Context, s ObjectStore, prefix string) ([]ShippedCollection, error) {
	return listShipped(ctx, s, prefix, "")
}

// listShipped lists the manifests under prefix whose keys also start with
// prefix + under.
func listShipped(ctx context.Context, s ObjectStore, prefix, under string) ([]ShippedCollection, error) {
	p := NormalizePrefix(prefix)
	if p != "" {
		p += "/"
	}
	objs, err := s.List(ctx, p+under)
	if err != nil {
		return nil, err
	}
	var out []ShippedCollection
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, p)
		if strings.Count(rel, "/") != 3 || !strings.HasSuffix(rel, "/"+ManifestName) {
			continue
		}
		m, err := ReadManifest(ctx, s, o.Key)
		out = append(out, ShippedCollection{Key: o.Key, Manifest: m, Err: err})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Manifest, out[j].Manifest
		switch {
		case a == nil || b == nil:
			return a != nil
		case a.Tenant != b.Tenant:
			return a.Tenant < b.Tenant
		case a.Name != b.Name:
			return a.Name < b.Name
		}
		return a.UpdatedAt.After(b.UpdatedAt)
	})
	return out, nil
}

// FindShipped returns the manifest of tenant/name (of the collection id,
// if given; otherwise the most recently updated one: a collection dropped
// and created again, or restored, ships under a new id).
func FindShipped(ctx context.Context, s ObjectStore, prefix, tenant, name, id string) (ShippedCollection, error) {
	if id != "" {
		key := CollectionPrefix(prefix, tenant, name, id) + ManifestName
		m, err := ReadManifest(ctx, s, key)
		if errors.Is(err, ErrNotFound) {
			return ShippedCollection{}, fmt.Errorf("%w: %s/%s with id %s (no %s)", ErrNoManifest, tenant, name, id, key)
		}
		return ShippedCollection{Key: key, Manifest: m}, err
	}
	all, err := listShipped(ctx, s, prefix, tenant+"/"+name+"/")
	if err != nil {
		return ShippedCollection{}, err
	}
	var bad []string
	for _, c := range all {
		if c.Err != nil {
			bad = append(bad, c.Err.Error())
			continue
		}
		if c.Manifest.Tenant == tenant && c.Manifest.Name == name {
			return c, nil
		}
	}
	if len(bad) > 0 {
		return ShippedCollection{}, fmt.Errorf("%w: %s/%s: unreadable manifests: %s", ErrNoManifest, tenant, name, strings.Join(bad, "; "))
	}
	return ShippedCollection{}, fmt.Errorf("%w: %s/%s under %q", ErrNoManifest, tenant, name, NormalizePrefix(prefix))
}

// Download copies the object o of the collection whose manifest is at
// manifestKey to w, checking its size and SHA-256 against the manifest
// (and against the SHA-256 stored with the object). On a mismatch the
// bytes already written must be thrown away.
func Download(ctx context.Context, s ObjectStore, manifestKey string, o Object, w io.Writer) error {
	key := strings.TrimSuffix(manifestKey, ManifestName) + o.Key
	rc, info, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	if info.SHA256 != "" && info.SHA256 != o.SHA256 {
		return fmt.Errorf("%s: %w: stored with sha-256 %s, the manifest says %s", key, ErrChecksumMismatch, info.SHA256, o.SHA256)
	}
	if _, err := io.CopyBuffer(w, NewVerifyingReader(rc, o.Size, o.SHA256), make([]byte, 1<<20)); err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	return nil
}

// DownloadBytes is Download into memory.
func DownloadBytes(ctx context.Context, s ObjectStore, manifestKey string, o Object) ([]byte, error) {
	var b bytes.Buffer
	err := Download(ctx, s, manifestKey, o, &b)
	return b.Bytes(), err
}
