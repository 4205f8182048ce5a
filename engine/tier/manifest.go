package tier

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/akidb/akidb/engine/meta"
)

// ManifestFormat is the version of the manifest layout below.
const ManifestFormat = 1

// maxManifestBytes bounds a manifest read back (a few hundred objects is
// a few tens of kilobytes).
const maxManifestBytes = 16 << 20

// Manifest is the one object a reader trusts: it is written last, after
// every object it lists was uploaded and confirmed (HEAD, size and the
// SHA-256 stored as metadata), and it replaces the previous one in one PUT,
// so a reader never sees a half-shipped state. Objects it no longer lists
// are deleted only after it is written.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	CollectionID  string `json:"collection_id"`
	TenantID      string `json:"tenant_id"`
	Tenant        string `json:"tenant"`
	Name          string `json:"name"`
	Dimension     int    `json:"dimension"`
	Metric        string `json:"metric"`
	HNSW          HNSW   `json:"hnsw"`
	Seed          int64  `json:"seed"`
	TierPolicy    string `json:"tier_policy"`
	// CreatedAt is the collection's; UpdatedAt this manifest's.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Generation counts the manifests written for this collection.
	Generation uint64 `json:"generation"`
	// ShippedSeq is the highest log sequence number a restore reaches:
	// the newest snapshot extended by the contiguous log objects after it.
	ShippedSeq uint64 `json:"shipped_seq"`
	// Snapshots, oldest first: each covers the log up to its sequence
	// number (FirstSeq = LastSeq = that number).
	Snapshots []Object `json:"snapshots"`
	// Segments are the log objects, by first sequence number: each holds
	// the records FirstSeq..LastSeq in the write-ahead log's segment format
	// (docs/wal.md).
	Segments []Object `json:"segments"`
	// Parquet exports, oldest first (FirstSeq = LastSeq = the snapshot's
	// sequence number they were written at).
	Parquet []Object `json:"parquet,omitempty"`
	// Settings is what a restore recreates besides the data and the HNSW
	// parameters: the catalog holds them, and the catalog is not shipped.
	// Manifests written before they were recorded have none; a restore
	// from one brings the collection back without them.
	Settings
}

// Settings are a collection's catalog settings a restore needs.
type Settings struct {
	// Quantization is nil for a float32 collection.
	Quantization *Quantization `json:"quantization,omitempty"`
	// PayloadIndexes, by field.
	PayloadIndexes []PayloadIndex `json:"payload_indexes,omitempty"`
}

// Quantization is an int8 collection's settings (its originals are in
// memory: a collection with its originals on disk is not shipped).
type Quantization struct {
	Type   string `json:"type"`
	Ranges string `json:"ranges"`
}

// PayloadIndex is an index declared on a metadata field.
type PayloadIndex struct {
	Field string `json:"field"`
	Type  string `json:"type"`
}

// Equal reports whether two settings are the same.
func (s Settings) Equal(o Settings) bool {
	if (s.Quantization == nil) != (o.Quantization == nil) || (s.Quantization != nil && *s.Quantization != *o.Quantization) {
		return false
	}
	return slices.Equal(s.PayloadIndexes, o.PayloadIndexes)
}

// validate checks the settings against what the catalog accepts.
func (s Settings) validate() error {
	if q := s.Quantization; q != nil {
		mq := meta.Quantization{Type: q.Type, Originals: meta.OriginalsMemory, Ranges: q.Ranges}
		if err := mq.Validate(); err != nil || q.Type != meta.QuantInt8 {
			return fmt.Errorf("quantization %+v: want type int8 and ranges auto, collection or dimension", *q)
		}
	}
	for i, p := range s.PayloadIndexes {
		switch {
		case p.Field == "" || len(p.Field) > meta.MaxPayloadIndexFieldBytes:
			return fmt.Errorf("payload index %d: field of %d bytes (want 1..%d)", i, len(p.Field), meta.MaxPayloadIndexFieldBytes)
		case p.Type != "keyword" && p.Type != "integer" && p.Type != "float":
			return fmt.Errorf("payload index on %q: type %q (want keyword, integer or float)", p.Field, p.Type)
		case i > 0 && p.Field <= s.PayloadIndexes[i-1].Field:
			return fmt.Errorf("payload indexes are not sorted by field, or repeat %q", p.Field)
		}
	}
	return nil
}

// HNSW are the index parameters a restore rebuilds with.
type HNSW struct {
	M              int `json:"m"`
	EfConstruction int `json:"ef_construction"`
}

// Object is one object a manifest lists.
type Object struct {
	Key      string `json:"key"` // relative to the collection's prefix
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
}

// ErrBadManifest: a manifest that does not decode or breaks its rules.
var ErrBadManifest = errors.New("invalid manifest")

// DecodeManifest parses and validates a manifest.
func DecodeManifest(b []byte) (*Manifest, error) {
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadManifest, len(b))
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Encode returns the manifest as indented JSON.
func (m *Manifest) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// Validate checks the manifest's rules: a known version, the collection's
// identity, well-formed objects in order, and a ShippedSeq that its objects
// really reach.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadManifest, fmt.Sprintf(format, args...))
	}
	switch {
	case m.FormatVersion != ManifestFormat:
		return bad("format version %d, this akidb reads %d", m.FormatVersion, ManifestFormat)
	case m.CollectionID == "" || m.Name == "" || m.TenantID == "" || m.Tenant == "":
		return bad("collection id, name, tenant id and tenant are required")
	case m.Dimension < 1 || m.Metric == "" || m.HNSW.M < 1 || m.HNSW.EfConstruction < 1:
		return bad("dimension, metric and hnsw parameters are required")
	}
	check := func(what string, objs []Object, point bool) error {
		for i, o := range objs {
			if !validRelKey(o.Key) {
				return bad("%s %d: key %q", what, i, o.Key)
			}
			if len(o.SHA256) != 64 {
				return bad("%s %s: sha256 %q", what, o.Key, o.SHA256)
			}
			if _, err := hex.DecodeString(o.SHA256); err != nil {
				return bad("%s %s: sha256 %q", what, o.Key, o.SHA256)
			}
			if o.Size < 0 || o.FirstSeq > o.LastSeq || (point && o.FirstSeq != o.LastSeq) || (!point && o.FirstSeq == 0) {
				return bad("%s %s: size %d, sequence numbers %d..%d", what, o.Key, o.Size, o.FirstSeq, o.LastSeq)
			}
			if i > 0 && o.FirstSeq <= objs[i-1].FirstSeq {
				return bad("%s are not in order at %s", what, o.Key)
			}
		}
		return nil
	}
	if err := check("snapshot", m.Snapshots, true); err != nil {
		return err
	}
	if err := check("segment", m.Segments, false); err != nil {
		return err
	}
	if err := check("parquet", m.Parquet, true); err != nil {
		return err
	}
	if got := m.reach(); got != m.ShippedSeq {
		return bad("shipped_seq is %d but the objects reach %d", m.ShippedSeq, got)
	}
	if err := m.Settings.validate(); err != nil {
		return bad("%v", err)
	}
	return nil
}

// NewestSnapshot is the newest snapshot's sequence number (0: none).
func (m *Manifest) NewestSnapshot() uint64 {
	if m == nil || len(m.Snapshots) == 0 {
		return 0
	}
	return m.Snapshots[len(m.Snapshots)-1].LastSeq
}

// lists reports whether the manifest refers to the relative key.
func (m *Manifest) lists(key string) bool {
	if m == nil {
		return false
	}
	for _, list := range [][]Object{m.Snapshots, m.Segments, m.Parquet} {
		for _, o := range list {
			if o.Key == key {
				return true
			}
		}
	}
	return false
}

// extend returns how far the log objects reach contiguously from base.
func extend(segs []Object, base uint64) uint64 {
	reach := base
	for _, s := range segs {
		if s.FirstSeq <= reach+1 && s.LastSeq > reach {
			reach = s.LastSeq
		}
	}
	return reach
}

// reach is ShippedSeq as the objects define it: from the newest snapshot
// (or from the start of the log when there is none and the log objects
// begin at 1) through the contiguous log objects.
func (m *Manifest) reach() uint64 {
	base := m.NewestSnapshot()
	if base == 0 && (len(m.Segments) == 0 || m.Segments[0].FirstSeq != 1) {
		return 0
	}
	return extend(m.Segments, base)
}

func (s Settings) clone() Settings {
	c := Settings{PayloadIndexes: slices.Clone(s.PayloadIndexes)}
	if s.Quantization != nil {
		q := *s.Quantization
		c.Quantization = &q
	}
	return c
}

// clone returns a deep copy.
func (m *Manifest) clone() *Manifest {
	c := *m
	c.Snapshots = slices.Clone(m.Snapshots)
	c.Segments = slices.Clone(m.Segments)
	c.Parquet = slices.Clone(m.Parquet)
	c.Settings = m.Settings.clone()
	return &c
}

// ErrNotRestorable: the manifest cannot rebuild the collection at the
// asked sequence number.
var ErrNotRestorable = errors.New("not restorable")

// RestorePlan is what a restore downloads: a snapshot (nil: start from an
// empty collection, the log objects beginning at 1) and the log objects
// after it up to ToSeq.
type RestorePlan struct {
	Snapshot *Object
	Segments []Object
	ToSeq    uint64
}

// Plan chooses the newest snapshot from which the log objects reach toSeq
// (0: ShippedSeq) and the log objects needed after it.
func (m *Manifest) Plan(toSeq uint64) (RestorePlan, error) {
	if toSeq == 0 {
		toSeq = m.ShippedSeq
	}
	if toSeq > m.ShippedSeq {
		return RestorePlan{}, fmt.Errorf("%w: sequence %d asked, but %s/%s is shipped up to %d", ErrNotRestorable, toSeq, m.Tenant, m.Name, m.ShippedSeq)
	}
	try := func(snap *Object) (RestorePlan, bool) {
		var base uint64
		if snap != nil {
			base = snap.LastSeq
		}
		if base > toSeq || extend(m.Segments, base) < toSeq {
			return RestorePlan{}, false
		}
		p := RestorePlan{Snapshot: snap, ToSeq: toSeq}
		reach := base
		for _, s := range m.Segments {
			if reach >= toSeq {
				break
			}
			if s.FirstSeq <= reach+1 && s.LastSeq > reach {
				p.Segments = append(p.Segments, s)
				reach = s.LastSeq
			}
		}
		return p, true
	}
	for i := len(m.Snapshots) - 1; i >= 0; i-- {
		if p, ok := try(&m.Snapshots[i]); ok {
			return p, nil
		}
	}
	if p, ok := try(nil); ok && (toSeq == 0 || (len(m.Segments) > 0 && m.Segments[0].FirstSeq == 1)) {
		return p, nil
	}
	oldest := uint64(0)
	if len(m.Snapshots) > 0 {
		oldest = m.Snapshots[0].LastSeq
	}
	return RestorePlan{}, fmt.Errorf("%w: no kept snapshot of %s/%s with the log after it reaches sequence %d (the oldest kept snapshot is at %d, shipped up to %d)",
		ErrNotRestorable, m.Tenant, m.Name, toSeq, oldest, m.ShippedSeq)
}
