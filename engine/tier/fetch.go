package tier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
)

// The reading side for a running server: loading a collection that was
// evicted from memory (or whose local copy is gone) back from the store.
// Unlike a restore (restore.go), these calls go through the breaker, so a
// store that is down answers at once instead of after a timeout, and they
// never wait for a ship pass of the collection (which may be uploading a
// large snapshot): they read what the last pass published.

// Manifest returns the newest manifest of a registered collection: the
// one the shipper last wrote or read. Until the shipper has read the
// store's manifest once (its first pass after a start), the store's is
// read here and the newer of the two returned. ErrNoManifest: nothing of
// the collection is in the store.
func (t *Tier) Manifest(ctx context.Context, id string) (*Manifest, error) {
	c := t.col(id)
	if c == nil {
		return nil, ErrNotRegistered
	}
	c.hold.Lock()
	m, checked := c.manifest, c.checked
	c.hold.Unlock()
	if !checked {
		var remote *Manifest
		err := t.call(ctx, smallCallTimeout, func(ctx context.Context) (err error) {
			remote, err = ReadManifest(ctx, t.store, c.key(ManifestName))
			return err
		})
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("read the manifest of %s: %w", c.info.Name, err)
		case remote.CollectionID == id && (m == nil || remote.Generation > m.Generation):
			m = remote
		}
	}
	if m == nil {
		return nil, fmt.Errorf("%w: %s/%s (%s) has nothing in the store", ErrNoManifest, c.info.TenantName, c.info.Name, id)
	}
	return m, nil
}

// Fetch copies the object o of a registered collection's manifest to w,
// checking its size and SHA-256 against o, through the breaker (bounded
// by the time an upload of that size may take). On an error the bytes
// written so far must be thrown away.
func (t *Tier) Fetch(ctx context.Context, id string, o Object, w io.Writer) error {
	c := t.col(id)
	if c == nil {
		return ErrNotRegistered
	}
	return t.call(ctx, uploadTimeout(o.Size), func(ctx context.Context) error {
		return Download(ctx, t.store, c.key(ManifestName), o, w)
	})
}

// ShippedSnapshots returns the sequence numbers of the snapshots in the
// collection's manifest, as of the last pass, oldest first (nil if it is
// not registered or nothing is shipped). A local snapshot at one of them
// may be deleted: the store has it.
func (t *Tier) ShippedSnapshots(id string) []uint64 {
	c := t.col(id)
	if c == nil {
		return nil
	}
	c.hold.Lock()
	m := c.manifest
	c.hold.Unlock()
	if m == nil {
		return nil
	}
	out := make([]uint64, len(m.Snapshots))
	for i, s := range m.Snapshots {
		out[i] = s.LastSeq
	}
	return out
}

// SnapshotShipped reports whether the collection's manifest lists the
// snapshot at seq.
func (t *Tier) SnapshotShipped(id string, seq uint64) bool {
	return slices.Contains(t.ShippedSnapshots(id), seq)
}

// ShippedSeq is what the collection's manifest reaches (0: not registered
// or nothing shipped).
func (t *Tier) ShippedSeq(id string) uint64 {
	c := t.col(id)
	if c == nil {
		return 0
	}
	c.hold.Lock()
	defer c.hold.Unlock()
	return c.shipped
}
